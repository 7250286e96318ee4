"""CloudFormation values outside CloudFormation: intrinsic functions resolved against a deployed
stack, and an ECS container secret's `ValueFrom` parsed the way the ECS agent reads it.

Pure functions over plain data, so `hangar run-task` can show where each value came from and
the rules can be tested without a stack.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hangar.core.errors import HangarError

# Resource types the free LocalStack only pretends to create: CloudFormation returns "unknown" for
# their Ref and Fn::GetAtt, which would leak into the app as if it were a host name.
NOT_EMULATED_PREFIXES = (
    "AWS::ECS::",
    "AWS::ElasticLoadBalancingV2::",
    "AWS::RDS::",
    "AWS::ECR::",
)
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")
_SECRETS_MANAGER_ARN_PARTS = 7  # arn:partition:secretsmanager:region:account:secret:name


@dataclass(frozen=True)
class DeployedResource:
    type: str
    physical_id: str


@dataclass(frozen=True)
class DeployedStack:
    """What a deployed stack tells about itself, keyed the way its template refers to it."""

    name: str
    resources: Mapping[str, DeployedResource]
    # (logical id, attribute) → value, known where an output's whole value is that Fn::GetAtt.
    attributes: Mapping[tuple[str, str], str]
    exports: Mapping[str, str]
    pseudo_parameters: Mapping[str, str]


@dataclass
class Resolution:
    value: str
    sources: list[str] = field(default_factory=list)
    substitutions: list[str] = field(default_factory=list)


def is_emulated(resource_type: str) -> bool:
    return not resource_type.startswith(NOT_EMULATED_PREFIXES)


def placeholder(logical_id: str, attribute: str | None = None) -> str:
    """A stand-in value that says what it replaces; `.invalid` (RFC 2606) never resolves."""
    name = logical_id if attribute is None else f"{logical_id}-{attribute}"
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()) + ".invalid"


def attributes_from_outputs(
    template_outputs: Mapping[str, Any], deployed_outputs: Mapping[str, str]
) -> dict[tuple[str, str], str]:
    """Fn::GetAtt values the stack reveals: an output whose value is exactly one Fn::GetAtt."""
    found: dict[tuple[str, str], str] = {}
    for key, output in template_outputs.items():
        expression = output.get("Value") if isinstance(output, Mapping) else None
        if isinstance(expression, Mapping) and set(expression) == {"Fn::GetAtt"}:
            logical_id, attribute = _get_att_target(expression["Fn::GetAtt"])
            if key in deployed_outputs:
                found[(logical_id, attribute)] = deployed_outputs[key]
    return found


def _get_att_target(argument: Any) -> tuple[str, str]:
    if isinstance(argument, str) and "." in argument:
        logical_id, _, attribute = argument.partition(".")
        return logical_id, attribute
    if isinstance(argument, list) and len(argument) == 2:
        return str(argument[0]), str(argument[1])
    raise HangarError(f"unsupported Fn::GetAtt argument {argument!r}")


class Resolver:
    """Evaluates the intrinsic functions CDK writes into container definitions."""

    def __init__(
        self, stack: DeployedStack, *, emulated: Callable[[str], bool] = is_emulated
    ) -> None:
        """`emulated`: whether a resource type has real values in `stack` (LocalStack leaves some
        unemulated, and their Ref and Fn::GetAtt become placeholders)."""
        self.stack = stack
        self._emulated = emulated

    def resolve(self, expression: Any) -> Resolution:
        resolution = Resolution(value="")
        value = self._evaluate(expression, resolution)
        if not isinstance(value, str):
            raise HangarError(f"{json.dumps(expression)} evaluates to a list, not a string")
        resolution.value = value
        return resolution

    def _evaluate(self, expression: Any, into: Resolution) -> str | list[str]:
        if isinstance(expression, str):
            return expression
        if isinstance(expression, bool | int | float):
            return json.dumps(expression)
        if isinstance(expression, list):
            return [self._scalar(item, into) for item in expression]
        if isinstance(expression, Mapping) and len(expression) == 1:
            function, argument = next(iter(expression.items()))
            handler = self._functions.get(function)
            if handler is not None:
                return handler(self, argument, into)
        raise HangarError(
            f"cannot resolve {json.dumps(expression)} locally: only "
            f"{', '.join(self._functions)} are supported"
        )

    def _scalar(self, expression: Any, into: Resolution) -> str:
        value = self._evaluate(expression, into)
        if not isinstance(value, str):
            raise HangarError(f"{json.dumps(expression)} is a list where a string is needed")
        return value

    def _resource(self, logical_id: str) -> DeployedResource:
        resource = self.stack.resources.get(logical_id)
        if resource is None:
            raise HangarError(
                f"{logical_id} is not a resource of the deployed stack {self.stack.name}.",
                hint="the synthesized template is newer than the deployment: make deploy-local",
            )
        return resource

    def _ref(self, argument: Any, into: Resolution) -> str:
        name = str(argument)
        if name in self.stack.pseudo_parameters:
            into.sources.append(f"Ref {name}")
            return self.stack.pseudo_parameters[name]
        resource = self._resource(name)
        if not self._emulated(resource.type):
            stand_in = placeholder(name)
            into.substitutions.append(
                f"Ref {name}: LocalStack does not emulate {resource.type}; used {stand_in}"
            )
            return stand_in
        into.sources.append(f"Ref {name} ({resource.type})")
        return resource.physical_id

    def _get_att(self, argument: Any, into: Resolution) -> str:
        logical_id, attribute = _get_att_target(argument)
        resource = self._resource(logical_id)
        if not self._emulated(resource.type):
            stand_in = placeholder(logical_id, attribute)
            into.substitutions.append(
                f"{logical_id}.{attribute}: LocalStack does not emulate {resource.type}; "
                f"used {stand_in}"
            )
            return stand_in
        value = self.stack.attributes.get((logical_id, attribute))
        if value is None:
            raise HangarError(
                f"Fn::GetAtt {logical_id}.{attribute} has no known value in {self.stack.name}.",
                hint="give the stack a CfnOutput with exactly that value; run-task reads "
                "attributes from the deployed outputs",
            )
        into.sources.append(f"GetAtt {logical_id}.{attribute} (stack output)")
        return value

    def _join(self, argument: Any, into: Resolution) -> str:
        delimiter, items = argument
        values = self._evaluate(items, into)
        return str(delimiter).join(values if isinstance(values, list) else [values])

    def _select(self, argument: Any, into: Resolution) -> str:
        index, items = argument
        values = self._evaluate(items, into)
        if not isinstance(values, list) or not 0 <= int(index) < len(values):
            raise HangarError(f"Fn::Select index {index} is outside {values!r}")
        return values[int(index)]

    def _split(self, argument: Any, into: Resolution) -> list[str]:
        delimiter, source = argument
        return self._scalar(source, into).split(str(delimiter))

    def _import_value(self, argument: Any, into: Resolution) -> str:
        name = self._scalar(argument, into)
        if name not in self.stack.exports:
            raise HangarError(
                f"no stack exports {name!r}.",
                hint="the exporting stack is not deployed: make deploy-local",
            )
        into.sources.append(f"ImportValue {name}")
        return self.stack.exports[name]

    def _sub(self, argument: Any, into: Resolution) -> str:
        template, variables = (argument, {}) if isinstance(argument, str) else argument

        def substitute(match: re.Match[str]) -> str:
            if match.group(1):  # ${!Literal} stands for the text ${Literal}
                return "${" + match.group(2) + "}"
            name = match.group(2)
            if name in variables:
                return self._scalar(variables[name], into)
            if "." in name:
                return self._get_att(name, into)
            return self._ref(name, into)

        return _SUB_VARIABLE.sub(substitute, template)

    _functions: ClassVar[dict[str, Callable[["Resolver", Any, Resolution], str | list[str]]]] = {
        "Ref": _ref,
        "Fn::GetAtt": _get_att,
        "Fn::Join": _join,
        "Fn::Select": _select,
        "Fn::Split": _split,
        "Fn::ImportValue": _import_value,
        "Fn::Sub": _sub,
    }


# --- ECS secrets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretsManagerSource:
    """`arn:…:secret:name[:json-key:version-stage:version-id]`, as the ECS agent splits it."""

    secret_arn: str
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None

    def describe(self) -> str:
        key = f" key {self.json_key}" if self.json_key else ""
        return f"Secrets Manager secret {self.secret_arn.split(':')[6]}{key}"


@dataclass(frozen=True)
class ParameterSource:
    """An SSM parameter, by ARN or (in the task's own region) by name."""

    name: str

    def describe(self) -> str:
        return f"SSM parameter {self.name}"


SecretSource = SecretsManagerSource | ParameterSource


def parse_value_from(value_from: str) -> SecretSource:
    if not value_from:
        raise HangarError("a container secret has an empty ValueFrom")
    if not value_from.startswith("arn:"):
        return ParameterSource(value_from)
    parts = value_from.split(":")
    service = parts[2] if len(parts) > 2 else ""
    if service == "ssm":
        return ParameterSource(value_from)
    if service != "secretsmanager" or len(parts) < _SECRETS_MANAGER_ARN_PARTS:
        raise HangarError(
            f"ValueFrom {value_from!r} is neither a Secrets Manager nor an SSM parameter ARN"
        )
    extra = parts[_SECRETS_MANAGER_ARN_PARTS:]
    if len(extra) > 3:
        raise HangarError(
            f"ValueFrom {value_from!r} has more than json-key:version-stage:version-id after "
            "the secret ARN"
        )
    json_key, version_stage, version_id = [*extra, "", "", ""][:3]
    return SecretsManagerSource(
        secret_arn=":".join(parts[:_SECRETS_MANAGER_ARN_PARTS]),
        json_key=json_key or None,
        version_stage=version_stage or None,
        version_id=version_id or None,
    )


def json_key_value(secret_string: str, key: str, source: str) -> str:
    """One key of a JSON secret, as ECS injects it: strings as they are, other values as JSON."""
    try:
        document = json.loads(secret_string)
    except json.JSONDecodeError as error:
        raise HangarError(f"{source} is not JSON, so it has no key {key!r}") from error
    if not isinstance(document, dict) or key not in document:
        raise HangarError(f"{source} has no key {key!r} (ECS would fail to start the task)")
    value = document[key]
    return value if isinstance(value, str) else json.dumps(value)
