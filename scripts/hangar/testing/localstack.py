"""LocalStack and the deployed local stage, for Hangar's integration tests and a project's own
(hangar.testing.plugin loads these fixtures, so a project's tests of its behaviour on the stack
take them as Hangar's do).

`localstack_endpoint` reuses a LocalStack already answering on the configured endpoint
(LOCALSTACK_ENDPOINT, default http://127.0.0.1:4566), or starts one: in host mode through
`hangar.localstack.commands`, or in docker mode as a testcontainers container. It tears down only
what it started. When LocalStack cannot be started the tests are skipped with the reason — except
under CI=true, where that is a failure: CI provisions everything it needs, so a skip there would
hide a broken pipeline. `deployed_stack` deploys the `local` stage into it once per session.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from hangar.core import ports
from hangar.core.docker_client import compose_settings
from hangar.core.errors import HangarError
from hangar.core.versions import LOCALSTACK_IMAGE
from hangar.localstack import commands as localstack
from hangar.localstack import host as localstack_host
from hangar.localstack.endpoint import RUNTIME_SETTINGS, configured_endpoint

REGION = "us-east-1"


def _unavailable(reason: str) -> NoReturn:
    message = f"LocalStack is not available: {reason}"
    # `from None`: the HangarError being handled is already in the message.
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.fail.Exception(message, pytrace=False) from None
    raise pytest.skip.Exception(message) from None


# A Docker socket that does not exist: the one way to hide the engine from everything Hangar runs
# (the docker CLI, compose, the SDK). `pytest --hide-docker` (`make test-without-docker`, the pass
# without Docker of `.ci/run`) runs with it; tests of that path pass it to the commands they run.
HIDDEN_DOCKER_HOST = "unix:///nonexistent/docker.sock"


def docker_is_hidden() -> bool:
    return os.environ.get("DOCKER_HOST") == HIDDEN_DOCKER_HOST


@pytest.fixture(scope="session")
def docker_as_ci_provisions_it() -> None:
    """Under CI the Docker engine, its plugins and images are provisioned while the first tests
    run (.ci/run): a test that needs them waits for that provisioning (or does it). Elsewhere the
    machine has what it has, and the test says what it needs. A run with the engine hidden proves
    the path without Docker: nothing provisions it then."""
    if os.environ.get("CI", "").lower() == "true" and not docker_is_hidden():
        from hangar.provision import docker

        docker.provision_all()


@pytest.fixture(scope="session")
def localstack_endpoint(docker_as_ci_provisions_it: None) -> Iterator[str]:
    # Under CI, after provisioning: LocalStack then runs in the mode CI means to test (docker),
    # not whichever the machine was in when this fixture ran.
    endpoint = configured_endpoint().url
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "test")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.setenv("AWS_REGION", REGION)
        env.delenv("AWS_PROFILE", raising=False)
        if localstack.is_healthy(endpoint):
            yield _exported(env, endpoint)
            return
        try:
            mode = localstack.choose_mode()
        except HangarError as error:
            _unavailable(str(error))
        if mode == "docker":
            yield from _testcontainer(env)
        else:
            yield from _host_mode(env)


@pytest.fixture(scope="session")
def localstack_host_venv() -> Path:
    """The host-mode runtime's Python, for tests that start LocalStack on ports of their own."""
    try:
        return localstack_host.runtime_python()
    except HangarError as error:
        _unavailable(str(error))


@pytest.fixture
def own_localstack(localstack_host_venv: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The endpoint of a host-mode LocalStack of the test's own, on a spare port, for tests that
    stop it: the session's instance, which the others deploy into, is never interrupted. The test
    starts it (`localstack.ensure_running("host")`, as often as it likes); it is stopped after."""
    port = ports.spare_port()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", endpoint)
    monkeypatch.setenv("HANGAR_LOCALSTACK_MODE", "host")
    # Not the session's localstack_endpoint, which exports these: run alone, boto3 had none.
    for name, value in localstack.FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    try:
        yield endpoint
    finally:
        localstack_host.stop(localstack_host.RunDir.for_port(port))


@pytest.fixture
def create_bucket_and_queue() -> Callable[[str, str], str]:
    """create(endpoint, name): a bucket and a queue called `name` in the LocalStack at `endpoint`
    (again after a restart: the free LocalStack keeps no state); the queue's URL."""

    import boto3
    from botocore.config import Config

    def create(endpoint: str, name: str) -> str:
        def client(service: str) -> Any:
            return boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=endpoint,
                region_name=REGION,
                config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
            )

        client("s3").create_bucket(Bucket=name)
        return str(client("sqs").create_queue(QueueName=name)["QueueUrl"])

    return create


def _exported(env: pytest.MonkeyPatch, endpoint: str) -> str:
    # LOCALSTACK_ENDPOINT too: hangar code called from tests (deploy_local) must find this instance.
    env.setenv("AWS_ENDPOINT_URL", endpoint)
    env.setenv("LOCALSTACK_ENDPOINT", endpoint)
    return endpoint


def _host_mode(env: pytest.MonkeyPatch) -> Iterator[str]:
    try:
        handle = localstack.ensure_running("host")
    except HangarError as error:
        _unavailable(str(error))
    try:
        yield _exported(env, handle.endpoint)
    finally:
        handle.stop()


def _image() -> str:
    """LOCALSTACK_IMAGE, else the image `hangar docker provision` chose, else the pin."""
    if image := os.environ.get("LOCALSTACK_IMAGE"):
        return image
    return compose_settings().get("LOCALSTACK_IMAGE") or LOCALSTACK_IMAGE


def _testcontainer(env: pytest.MonkeyPatch) -> Iterator[str]:
    from docker.errors import DockerException, ImageNotFound
    from testcontainers.community.localstack import LocalStackContainer
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.docker_client import DockerClient

    image = _image()
    container = None
    try:
        if not testcontainers_config.ryuk_disabled:
            try:
                DockerClient().client.images.get(testcontainers_config.ryuk_image)
            except ImageNotFound:
                # Without a registry the reaper cannot be pulled; the finally below removes the
                # container instead (a killed session leaves it for `docker ps` to show).
                testcontainers_config.ryuk_disabled = True
        # The module's defaults (localstack/localstack:2.0.1, us-west-1) are not what we target.
        container = LocalStackContainer(image=image, region_name=REGION)
        for name, value in RUNTIME_SETTINGS.items():
            container.with_env(name, value)
        if token := os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            container.with_env("LOCALSTACK_AUTH_TOKEN", token)
        container.start()
    except (DockerException, TimeoutError) as error:
        if container is not None:
            container.stop()  # started, but never became ready
        _unavailable(f"the {image} container did not start: {error}")
    try:
        yield _exported(env, container.get_url())
    finally:
        container.stop()


# --- the deployed local stage -----------------------------------------------------------------
# Tests that need the stack's resources (bucket, queues, secret) take `deployed_stack`; it deploys
# the `local` stage once per session (idempotent) and exports its outputs like .hangar/local.env.


@pytest.fixture(scope="session")
def deployed_stack(
    localstack_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    # Imported here so that LocalStack-only tests run even while the CDK tooling is unavailable.
    from hangar.core.paths import LOCAL_ENV_FILE
    from hangar.deploy.local_stage import deploy_local

    try:
        outputs = deploy_local(localstack_endpoint)
    except HangarError as error:
        pytest.fail(f"deploying the local stage into {localstack_endpoint} failed: {error}")
    # The env file exactly as this deploy wrote it: other deploys in the session (the e2e stack)
    # rewrite .hangar/local.env for their own LocalStack.
    env_file = tmp_path_factory.mktemp("deployed-stack") / "local.env"
    env_file.write_bytes(LOCAL_ENV_FILE.read_bytes())
    with pytest.MonkeyPatch.context() as env:
        for key, value in outputs.items():
            env.setenv(key, value)
        env.setenv("HANGAR_ENV_FILE", str(env_file))
        yield outputs
