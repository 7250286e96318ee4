"""The project answers the load balancer and the deploy: its health path gives 200 to a Host that
is the task's private IP (never the 400 of host validation that kept the seed's first deploy in
CREATE_IN_PROGRESS), and its readiness path gives 200 with the database up."""

import pytest

from hangar.core.contract import Contract, contract
from hangar.testing.project_http import PRIVATE_IP_HOST, Answers, ask


@pytest.fixture(scope="module")
def project() -> Contract:
    return contract()


@pytest.fixture(scope="module")
def answers(project: Contract) -> Answers:
    return ask(project)


def test_health_path_answers_the_private_ip_host(answers: Answers, project: Contract) -> None:
    for method, status in (("GET", answers.health), ("HEAD", answers.health_head)):
        assert status == 200, (
            f"{method} {project.health_path} with Host {PRIVATE_IP_HOST} (the load balancer's "
            f"health check): {status}, not 200; answer it before host validation and any HTTPS "
            "redirect (docs/adopting.md section 3: the health middleware first in MIDDLEWARE)"
        )


def test_readiness_path_answers_with_the_database_up(answers: Answers, project: Contract) -> None:
    assert answers.readiness == 200, (
        f"GET {project.readiness_path} with the database up: {answers.readiness}, not 200 "
        "(docs/adopting.md section 3: the readiness view in ROOT_URLCONF)"
    )
