"""The task definitions of the local stage as `cdk synth` wrote them (cdk.out/local, synthesized
again only when infra/ or the CDK constructs changed), and the container definition of one task:
what `hangar run-task` runs, as ECS would.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hangar.core.console import info
from hangar.core.contract import contract
from hangar.core.errors import HangarError
from hangar.core.paths import CDK_PACKAGE_DIR, INFRA_DIR, ROOT
from hangar.core.stages import LOCAL_STAGE
from hangar.deploy import stacks as infra


def task_construct(task: str) -> str:
    """The CDK construct that owns a task's definition (aws:cdk:path …/Service/<Name>/
    TaskDefinition): the worker is the first worker queue's (`Contract.worker_command`), named
    after that queue."""
    if task != "worker":
        return task.capitalize()
    queue = next(iter(contract().worker_queues), None)
    if queue is None:
        raise HangarError(
            "the app has no worker to run.",
            hint="declare worker-command in a [tool.hangar.queues.<name>] table (docs/adopting.md)",
        )
    return f"{queue.id}Worker"


def _assembly_dir() -> Path:
    return infra.ASSEMBLY_DIR / LOCAL_STAGE


def assembly_is_current(
    assembly: Path, sources: Sequence[Path] = (INFRA_DIR, CDK_PACKAGE_DIR)
) -> bool:
    """Newer than every CDK source (and cdk.json/context), so the synth can be reused."""
    manifest = assembly / "manifest.json"
    if not manifest.exists():
        return False
    inputs = [
        path
        for folder in sources
        for path in folder.rglob("*")
        if path.suffix in (".py", ".json") and "cdk.out" not in path.parts
    ]
    return all(path.stat().st_mtime <= manifest.stat().st_mtime for path in inputs)


def ensure_synthesized() -> Path:
    assembly = _assembly_dir()
    if assembly_is_current(assembly):
        info(f"Reusing {assembly.relative_to(ROOT)} (newer than every CDK source)")
    else:
        infra.synth([LOCAL_STAGE], image_tag="local")
    return assembly


def task_container(template: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The first container definition of the task's AWS::ECS::TaskDefinition."""
    suffix = f"/{task_construct(task)}/TaskDefinition/Resource"
    for resource in template.get("Resources", {}).values():
        path = resource.get("Metadata", {}).get("aws:cdk:path", "")
        if resource.get("Type") == "AWS::ECS::TaskDefinition" and path.endswith(suffix):
            container: dict[str, Any] = resource["Properties"]["ContainerDefinitions"][0]
            return container
    raise HangarError(
        f"the service stack has no task definition for {task!r} (no construct path ending "
        f"{suffix}).",
        hint="infra/ renamed the constructs: update hangar.deploy.task_definition.task_construct",
    )
