"""Why a CloudFormation operation failed, from the stack's events rather than cdk's "failed".

`failures()` returns the resources that failed, oldest first, each with CloudFormation's reason;
resources that were only cancelled because another one failed are left out, so the first entry is
the cause. Deploy commands print `describe_failures()` when cdk exits non-zero.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

# Reasons CloudFormation gives a resource it stopped because *another* resource failed.
CONSEQUENTIAL_REASONS = (
    "Resource creation cancelled",
    "Resource update cancelled",
    "The following resource(s) failed",
)


@dataclass(frozen=True)
class ResourceFailure:
    stack: str
    logical_id: str
    resource_type: str
    status: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.stack}: {self.logical_id} ({self.resource_type}) {self.status}: {self.reason}"
        )


def failures(cloudformation: Any, stack_name: str, since: datetime) -> list[ResourceFailure]:
    """*_FAILED events of `stack_name` since `since`, oldest first; [] if the stack is gone."""
    found: list[ResourceFailure] = []
    paginator = cloudformation.get_paginator("describe_stack_events")
    try:
        for page in paginator.paginate(StackName=stack_name):
            for event in page["StackEvents"]:  # newest first
                if event["Timestamp"] < since:
                    return found[::-1]
                failure = failure_from_event(stack_name, event)
                if failure is not None:
                    found.append(failure)
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
    return found[::-1]


def failure_from_event(stack_name: str, event: dict[str, Any]) -> ResourceFailure | None:
    """The failure an event reports, or None for progress and for knock-on cancellations."""
    status = event.get("ResourceStatus", "")
    reason = event.get("ResourceStatusReason", "")
    if not status.endswith("_FAILED") or event.get("ResourceType") == "AWS::CloudFormation::Stack":
        return None
    if reason.startswith(CONSEQUENTIAL_REASONS):
        return None
    return ResourceFailure(
        stack=stack_name,
        logical_id=event.get("LogicalResourceId", "?"),
        resource_type=event.get("ResourceType", "?"),
        status=status,
        reason=reason or "(CloudFormation gave no reason)",
    )


def describe_failures(cloudformation: Any, stack_names: list[str], since: datetime) -> str:
    """One line per failed resource across `stack_names`, or a note that the events had none."""
    try:
        found = [f for name in stack_names for f in failures(cloudformation, name, since)]
    except (ClientError, BotoCoreError) as error:
        return f"(could not read the stack events: {error})"
    if not found:
        return "(no resource failed in the stack events: the error is in the CDK output above)"
    return "\n".join(f"  - {failure}" for failure in found)
