"""The app's declared secrets (`[tool.hangar.secrets]`), read from Secrets Manager into every task.

The stack only refers to them, by name (`/<service>/<stage>/secrets/<NAME>`): `make secret` creates
and sets each one, so a value never passes through a template, and it outlives a stack that is
deleted and deployed again. Each task definition's execution role may read exactly these secrets
(ECS grants it per secret it injects); the app's own task role reads none.
"""

from collections.abc import Iterable

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from hangar.core.contract import ContractError
from hangar_infra.naming import ResourceNames


class AppSecrets(Construct):
    def __init__(
        self, scope: Construct, id: str, *, names: ResourceNames, taken: Iterable[str]
    ) -> None:
        """`taken`: the variables the platform already sets; a declared secret may not hide one."""
        super().__init__(scope, id)
        declared = names.contract.secrets
        if clashes := sorted(set(declared) & set(taken)):
            raise ContractError(
                f"[tool.hangar.secrets] declares {', '.join(clashes)}, which the platform sets "
                "itself; give the secret another name"
            )
        # Variable → what ECS injects into the container: the secret's whole value.
        self.container_secrets = {
            variable: ecs.Secret.from_secrets_manager(
                secretsmanager.Secret.from_secret_name_v2(
                    self, variable, names.contract.secret_name(names.stage, variable)
                )
            )
            for variable in declared
        }
