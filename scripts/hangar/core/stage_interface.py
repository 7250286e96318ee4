"""What the CDK app (hangar_infra) and the CLI both name about a deployed stage: the stacks'
parameters and outputs, the app's container and its log streams. Both sides import the names from
here, so neither keeps a copy of the other's; plain Python, so the CLI reads them without the CDK.
The declared resources' outputs are the contract's (`Bucket.outputs`, `Queue.outputs`)."""

# --- parameters: set by `hangar deploy`, declared by the stacks ---------------------------------
# "true" once the stack's first create has completed; every resource that can be protected from
# deletion (the database) reads it. CloudFormation cannot delete a protected resource, so a
# protection that held during the first create would turn any failure of that create into
# ROLLBACK_FAILED, the resource left behind under its fixed name and every retry refused
# ("already exists"). The parameter defaults to "false"; `hangar deploy` passes "true" to every
# deploy of a stack that exists and deploys once more right after the stack's first create.
DELETION_PROTECTION = "DeletionProtection"

# --- the registry stack's outputs ---------------------------------------------------------------
REPOSITORY_NAME = "RepositoryName"
REPOSITORY_URI = "RepositoryUri"

# --- the service stack's outputs -----------------------------------------------------------------
# What the app is configured with (deploy-local writes them to .hangar/local.env).
ALLOWED_HOSTS = "AllowedHosts"
REGION = "Region"
SECRET_KEY_ARN = "DjangoSecretKeyArn"  # noqa: S105 - an output's name, not a secret
DATABASE_SECRET_ARN = "DatabaseSecretArn"  # noqa: S105 - an output's name, not a secret
DATABASE_ENDPOINT = "DatabaseEndpoint"
# Where the stage answers (the smoke test's target).
LOAD_BALANCER_DNS_NAME = "LoadBalancerDnsName"
SERVICE_URL = "ServiceUrl"
# What the tooling runs tasks and services with (deploy, run-task, remote-shell, status, logs).
CLUSTER_NAME = "ClusterName"
WEB_SERVICE_NAME = "WebServiceName"
MIGRATION_TASK_DEFINITION_ARN = "MigrationTaskDefinitionArn"
MIGRATION_SUBNET_IDS = "MigrationSubnetIds"
MIGRATION_ASSIGN_PUBLIC_IP = "MigrationAssignPublicIp"
MIGRATION_SECURITY_GROUP_ID = "MigrationSecurityGroupId"
APP_LOG_GROUP_NAME = "AppLogGroupName"

# --- the tasks ------------------------------------------------------------------------------------
# The one container of every task definition: web, worker, migration, schedules.
CONTAINER_NAME = "app"
# Each task's awslogs stream prefix in the app log group (`hangar stage-logs --service` filters on
# it); a scheduled command's is `schedule_log_prefix(name)`.
LOG_STREAM_PREFIXES = {"web": "web", "worker": "worker", "migration": "migrate"}


def schedule_log_prefix(name: str) -> str:
    return f"schedule-{name}"
