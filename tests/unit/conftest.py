"""Unit tests run without network: in-memory file storage, tasks recorded instead of sent."""

import pytest


@pytest.fixture(scope="session")
def _static_root(tmp_path_factory):
    return tmp_path_factory.mktemp("staticfiles")


@pytest.fixture(autouse=True)
def _no_aws(settings, _static_root):
    # Whatever .hangar/local.env or the shell configured, unit tests never reach AWS or LocalStack.
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        # The manifest storage needs `collectstatic`, which unit tests do not run.
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.DOCUMENTS_BUCKET = ""
    settings.TASKS_QUEUE_URL = ""
    settings.AWS_ENDPOINT_URL = ""
    # WhiteNoise warns about a STATIC_ROOT that collectstatic has not created yet.
    settings.STATIC_ROOT = _static_root
