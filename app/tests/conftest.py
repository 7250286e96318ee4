"""The sample's own tests run without network: in-memory file storage, tasks recorded instead of
sent. `make test` runs them beside Hangar's (hangar.testing.plugin collects the project's tests);
the loopback fixtures (closed_port, listening_port, serve_http) come from that plugin too.
"""

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
    # As on every deployed stage, whatever `make dev` or the dev container set in this shell.
    settings.UPLOADS_REQUIRE_LOGIN = True
    # WhiteNoise warns about a STATIC_ROOT that collectstatic has not created yet.
    settings.STATIC_ROOT = _static_root


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Django's advice for test suites: PBKDF2's deliberate cost (what every stage uses) was most
    # of these tests' CPU, every login and every user they create hashing once more.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def member(django_user_model):
    """A plain user (no staff rights): uploads need one wherever login is required."""
    return django_user_model.objects.create_user("member", password="member-password")


@pytest.fixture
def logged_in(client, member):
    """The test client with `member`'s session, as a browser has after logging in."""
    client.force_login(member)
    return client
