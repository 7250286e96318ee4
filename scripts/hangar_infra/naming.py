"""Every AWS name of one stage, derived from the contract's service name (`[tool.hangar]
service-name`): renaming the service renames every resource and changes nothing else."""

from dataclasses import dataclass

from hangar.core.contract import Contract


@dataclass(frozen=True)
class ResourceNames:
    contract: Contract
    stage: str

    @property
    def prefix(self) -> str:
        """`<service>-<stage>`: the Stage, the repository, the database, alarms and dashboard."""
        return self.contract.resource_prefix(self.stage)

    @property
    def stacks(self) -> tuple[str, str]:
        """The registry and service stacks, in deploy order."""
        return self.contract.stack_names(self.stage)

    def path(self, name: str) -> str:
        """`/<service>/<stage>/<name>`: SSM parameters and log groups."""
        return f"/{self.contract.service_name}/{self.stage}/{name}"

    @property
    def database(self) -> str:
        """The PostgreSQL database and its owner: RDS takes letters and digits there, no hyphen."""
        return self.contract.service_name.replace("-", "")
