"""Can every deploy run under the environments' rules, and can no pull request reach them?

GitHub decides whether a job in an environment may run from the environment's deployment branch
and tag policies (.github/environments.yml, hangar.provision.github_environments), the job's `if:`
and its `needs:`. This module plays the events Hangar's deploys rely on through the workflow graph
the way GitHub would (which jobs start, in which environment, on which ref) and reports:

- a deploy the docs promise that the rules would refuse: a push to a deploy branch, a manual run
  on it, the rollback (a manual run on a deploy tag), each for every stage the run offers;
- an event that starts no deploy although it should (the check would pass vacuously);
- a pull request job that runs in an environment at all (its token would name the environment);
- a manual run on an ordinary branch that an environment admits (anyone who may push could deploy);
- a job in an environment the file does not declare.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hangar.provision import github_environments, workflow_gate
from hangar.provision.github_environments import Declaration

# A branch no deploy rule should admit, and a tag like those the rollback creates (docs/deploy.md:
# `git push origin <sha>:refs/tags/rollback-<date>`, then a manual run on it).
ORDINARY_BRANCH = "refs/heads/feature/anything"
ROLLBACK_REF = "refs/tags/rollback-2026-12-01"
PULL_REQUEST_REF = "refs/pull/7/merge"


@dataclass(frozen=True)
class Event:
    """One way a workflow run starts: GitHub's context for it, as `if:` expressions read it."""

    name: str  # what the report calls it
    context: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return self.context["github.ref"]


def events(workflow: Mapping[str, Any]) -> dict[str, list[Event]]:
    """The events to play, by what must hold for them: deploy, pull_request, ordinary. The deploys
    are those the docs promise: a push to a branch the workflow deploys on, a manual run there, and
    the rollback (a manual run on a rollback tag), each for every stage a manual run offers."""
    on = workflow.get("on") or {}
    on = {on: None} if isinstance(on, str) else on
    branches = [b for b in (on.get("push") or {}).get("branches", []) if "*" not in b]
    deploys = [_event(f"push to {b}", "push", f"refs/heads/{b}") for b in branches]
    stages = _dispatch_choices(on)
    manual = "workflow_dispatch" in on
    for ref in [f"refs/heads/{b}" for b in branches] + [ROLLBACK_REF] if manual else []:
        deploys += [
            _event(f"manual run on {ref} ({inputs})", "workflow_dispatch", ref, **inputs)
            for inputs in stages
        ]
    pull_requests = [
        _event(f"pull request from {head}", "pull_request", PULL_REQUEST_REF, head=head)
        for head in ("acme/hangar", "someone/fork")
        if "pull_request" in on
    ]
    ordinary = [
        _event(
            f"manual run on {ORDINARY_BRANCH} ({inputs})",
            "workflow_dispatch",
            ORDINARY_BRANCH,
            **inputs,
        )
        for inputs in stages
        if manual
    ]
    return {"deploy": deploys, "pull_request": pull_requests, "ordinary": ordinary}


def _dispatch_choices(on: Mapping[str, Any]) -> list[dict[str, str]]:
    """One set of inputs per option of each choice input of workflow_dispatch."""
    inputs = ((on.get("workflow_dispatch") or {}).get("inputs")) or {}
    choices = [
        (name, spec["options"]) for name, spec in inputs.items() if spec.get("type") == "choice"
    ]
    if not choices:
        return [{}]
    name, options = choices[0]
    return [{f"inputs.{name}": str(option)} for option in options]


def _event(name: str, event: str, ref: str, head: str = "acme/hangar", **inputs: str) -> Event:
    return Event(
        name,
        {
            "github.event_name": event,
            "github.ref": ref,
            "github.repository": "acme/hangar",
            "github.event.pull_request.head.repo.full_name": head
            if event == "pull_request"
            else "",
            **inputs,
        },
    )


# --- which jobs start, in which environment ------------------------------------------------------


def started(
    jobs: Mapping[str, Mapping[str, Any]], event: Event, workflows_dir: Path
) -> dict[str, str | None]:
    """{job: the environment it runs in (None: none)} for the jobs GitHub would start for `event`,
    its needs having succeeded; a job whose `if` uses a status function is assumed to start."""
    result: dict[str, str | None] = {}
    pending = dict(jobs)
    while pending:
        ready = [
            name
            for name, job in pending.items()
            if all(need not in pending for need in workflow_gate.needs(job))
        ]
        if not ready:  # a cycle: actionlint reports it
            break
        for name in ready:
            job = pending.pop(name)
            needs_ran = all(need in result for need in workflow_gate.needs(job))
            condition = str(job.get("if", "true"))
            if needs_ran and evaluate(condition, event.context):
                result[name] = environment_of(job, workflows_dir)
    return result


def environment_of(job: Mapping[str, Any], workflows_dir: Path) -> str | None:
    """The environment a job runs in; for a call of a reusable workflow, its jobs' (resolving
    `${{ inputs.x }}` from the caller's `with:`)."""
    called = job.get("uses", "")
    if called.startswith("./"):
        inputs = {f"inputs.{k}": str(v) for k, v in (job.get("with") or {}).items()}
        callee = workflow_gate.load(workflows_dir.parent.parent / called)
        for inner in callee["jobs"].values():
            if environment := environment_of(inner, workflows_dir):
                return substitute(environment, inputs)
        return None
    environment = job.get("environment")
    if isinstance(environment, dict):
        environment = environment.get("name")
    return str(environment) if environment else None


def substitute(value: str, context: Mapping[str, str]) -> str:
    return re.sub(
        r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: context.get(m.group(1), m.group(0)), value
    )


# --- the check -----------------------------------------------------------------------------------


def violations(workflows_dir: Path, declaration: Declaration) -> list[str]:
    found: list[str] = []
    for path in sorted(workflows_dir.glob("*.y*ml")):
        workflow = workflow_gate.load(path)
        if workflow_gate.triggers(workflow) == {"workflow_call"}:
            continue  # a callee: played through the jobs that call it
        jobs = workflow.get("jobs", {})
        played = events(workflow)
        found += _check_deploys(path.name, jobs, played["deploy"], declaration, workflows_dir)
        for event in played["pull_request"]:
            for job, environment in started(jobs, event, workflows_dir).items():
                if environment:
                    found.append(
                        f"{path.name}: a {event.name} runs job {job!r} in environment "
                        f"{environment!r}: pull requests must never reach an environment"
                    )
        for event in played["ordinary"]:
            for job, environment in started(jobs, event, workflows_dir).items():
                admitted = declaration.named(environment) if environment else None
                if admitted and admitted.admits(event.ref):
                    found.append(
                        f"{path.name}: environment {environment!r} admits {event.ref}, so anyone "
                        f"who may push could deploy it (job {job!r})"
                    )
    return found


def _check_deploys(
    where: str,
    jobs: Mapping[str, Mapping[str, Any]],
    deploys: list[Event],
    declaration: Declaration,
    workflows_dir: Path,
) -> Iterator[str]:
    for event in deploys:
        in_environments = {
            job: environment
            for job, environment in started(jobs, event, workflows_dir).items()
            if environment
        }
        if not in_environments:
            yield f"{where}: a {event.name} starts no job in a deploy environment"
        for job, name in in_environments.items():
            environment = declaration.named(name)
            if environment is None:
                yield (
                    f"{where}: job {job!r} runs in environment {name!r}, which "
                    f"{github_environments.DECLARATION.name} does not declare"
                )
            elif not environment.admits(event.ref):
                yield (
                    f"{where}: a {event.name} runs job {job!r} in environment {name!r}, whose "
                    f"rules refuse {event.ref}"
                )


# --- `if:` expressions ---------------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))"
    r"|(?P<call>[A-Za-z_]\w*)\(\s*\)|(?P<name>[A-Za-z_][\w.-]*))"
)
STATUS_FUNCTIONS = {"success": True, "always": True, "cancelled": False, "failure": False}
# Repository variables switch optional jobs on (`vars.X != ''`, `vars.X == 'true'`): every one is
# played as set, so an optional job is checked as if the repository had turned it on.
OPTED_IN = "true"


def evaluate(condition: str, context: Mapping[str, str]) -> bool:
    """A job's `if:` (==, !=, &&, ||, !, parentheses, 'strings', true/false, context names,
    status functions) under `context`; unknown names are '' as GitHub's null compares, unknown
    variables (`vars.`) are set."""
    expression = condition.strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    tokens = _tokens(expression)
    value, rest = _or(tokens, context)
    if rest:
        raise ValueError(f"cannot read the expression {condition!r} at {rest[0]!r}")
    return _truthy(value)


Token = tuple[str, str]


def _tokens(expression: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(expression.rstrip()):
        match = TOKEN.match(expression, position)
        if not match:
            raise ValueError(f"cannot read the expression {expression!r} at {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _or(tokens: list[Token], context: Mapping[str, str]) -> tuple[Any, list[Token]]:
    value, tokens = _and(tokens, context)
    while tokens and tokens[0] == ("op", "||"):
        right, tokens = _and(tokens[1:], context)
        value = value if _truthy(value) else right
    return value, tokens


def _and(tokens: list[Token], context: Mapping[str, str]) -> tuple[Any, list[Token]]:
    value, tokens = _comparison(tokens, context)
    while tokens and tokens[0] == ("op", "&&"):
        right, tokens = _comparison(tokens[1:], context)
        value = right if _truthy(value) else value
    return value, tokens


def _comparison(tokens: list[Token], context: Mapping[str, str]) -> tuple[Any, list[Token]]:
    value, tokens = _unary(tokens, context)
    while tokens and tokens[0] in (("op", "=="), ("op", "!=")):
        operator = tokens[0][1]
        right, tokens = _unary(tokens[1:], context)
        equal = str(value).lower() == str(right).lower()  # GitHub compares strings ignoring case
        value = equal if operator == "==" else not equal
    return value, tokens


def _unary(tokens: list[Token], context: Mapping[str, str]) -> tuple[Any, list[Token]]:
    if not tokens:
        raise ValueError("the expression ends too early")
    kind, text = tokens[0]
    if (kind, text) == ("op", "!"):
        value, rest = _unary(tokens[1:], context)
        return not _truthy(value), rest
    if (kind, text) == ("op", "("):
        value, rest = _or(tokens[1:], context)
        if not rest or rest[0] != ("op", ")"):
            raise ValueError("a parenthesis is not closed")
        return value, rest[1:]
    if kind == "string":
        return text[1:-1].replace("''", "'"), tokens[1:]
    if kind == "call":
        return STATUS_FUNCTIONS.get(text, True), tokens[1:]
    if kind == "name":
        literal = {"true": True, "false": False, "null": ""}
        if text.startswith("vars.") and text not in context:
            return OPTED_IN, tokens[1:]
        return literal.get(text, context.get(text, "")), tokens[1:]
    raise ValueError(f"unexpected {text!r}")


def _truthy(value: Any) -> bool:
    return value not in ("", False, None)
