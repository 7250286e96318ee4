"""The minimal fixture project (tests/fixtures/minimal_project) is the smallest project that meets
docs/adopting.md section 3, checked without Docker: its settings import with only what the image
build gives them, its health path answers whatever the Host, and everything else validates it.

The containers' side (deploy-local, run-task, `make dev`) is proved on a project written
elsewhere, tests/e2e/test_locallibrary_in_place.py.
"""

import json
import subprocess
import sys

from hangar.core.paths import ROOT

# What the Dockerfile's collectstatic step gives the settings, and nothing else of the platform.
from hangar.testing.project_http import BUILD_ENV

FIXTURE = ROOT / "tests" / "fixtures" / "minimal_project"
ALLOWED = BUILD_ENV["DJANGO_ALLOWED_HOSTS"]
REQUESTS = """
import json, sys, django
from django.test import Client
django.setup()
client = Client()
answers = {}
for host in sys.argv[1:]:
    for path in ("/ping", "/ready"):
        answers[f"{host}{path}"] = client.get(path, headers={"host": host}).status_code
print(json.dumps(answers))
"""


def test_its_health_path_answers_before_host_validation_with_the_build_environment() -> None:
    result = subprocess.run(
        [sys.executable, "-c", REQUESTS, "10.0.1.23", ALLOWED],
        cwd=FIXTURE,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "notes.settings", **BUILD_ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {
        "10.0.1.23/ping": 200,  # the load balancer's probe by private IP
        "10.0.1.23/ready": 400,  # host validation holds for every other path
        f"{ALLOWED}/ping": 200,
        f"{ALLOWED}/ready": 200,  # SQLite in memory: the database answers
    }
