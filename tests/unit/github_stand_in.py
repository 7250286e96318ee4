"""A stand-in for GitHub's REST API on a loopback port (GitHub cannot be reached here).

It serves the recorded answers of fixtures/github/repos for the repositories it knows, and keeps the
settings `bootstrap-aws` writes (environments, their deployment branch policies and variables,
repository variables, rulesets) in memory with GitHub's paths, bodies and status codes, so that a
second run sees what the first one wrote. Every request is recorded for the tests to read.
"""

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

RECORDED = Path(__file__).parent / "fixtures" / "github" / "repos"
TOKEN = "ghp_stand_in_token"  # the stand-in checks it on every request
USERS = {"octocat": 583231, "hubot": 480938}
TEAMS = {"acme/release-managers": 1299001}


@dataclass
class Request:
    method: str
    path: str
    body: Any
    headers: dict[str, str]  # names in lower case


@dataclass
class GitHubState:
    repositories: dict[str, tuple[Any, Any]]  # full name (lower case) → (repo, oidc sub settings)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)  # scope → {NAME: value}
    rulesets: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    next_id: int = 100

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if r.method != "GET"]


def recorded(name: str) -> tuple[Any, Any]:
    return (
        json.loads((RECORDED / f"{name}.json").read_text()),
        json.loads((RECORDED / f"{name}-oidc-sub.json").read_text()),
    )


def github_stand_in(state: GitHubState) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def do_PUT(self) -> None:
            self.answer()

        def do_PATCH(self) -> None:
            self.answer()

        def do_DELETE(self) -> None:
            self.answer()

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path = urlsplit(self.path).path
            with lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                state.requests.append(Request(self.command, path, body, headers))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    status, payload = 401, {"message": "Bad credentials"}
                else:
                    status, payload = route(state, self.command, path, body)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


Route = Callable[[GitHubState, str, dict[str, str], Any], tuple[int, Any]]
NOT_FOUND = (404, {"message": "Not Found"})


def route(state: GitHubState, method: str, path: str, body: Any) -> tuple[int, Any]:
    for pattern, methods in ROUTES:
        match = re.fullmatch(pattern, path)
        if match and method in methods:
            groups = {k: unquote(v) for k, v in match.groupdict().items()}
            if "repo" in groups and groups["repo"].lower() not in state.repositories:
                return NOT_FOUND
            return methods[method](state, method, groups, body)
    return NOT_FOUND


def _repository(state: GitHubState, _: str, g: dict[str, str], __: Any) -> tuple[int, Any]:
    return 200, state.repositories[g["repo"].lower()][0]


def _oidc_sub(state: GitHubState, _: str, g: dict[str, str], __: Any) -> tuple[int, Any]:
    return 200, state.repositories[g["repo"].lower()][1]


def _user(state: GitHubState, _: str, g: dict[str, str], __: Any) -> tuple[int, Any]:
    if g["login"] not in USERS:
        return NOT_FOUND
    return 200, {"login": g["login"], "id": USERS[g["login"]], "type": "User"}


def _team(state: GitHubState, _: str, g: dict[str, str], __: Any) -> tuple[int, Any]:
    key = f"{g['org']}/{g['team']}"
    return (200, {"slug": g["team"], "id": TEAMS[key]}) if key in TEAMS else NOT_FOUND


def _environment(state: GitHubState, _: str, g: dict[str, str], body: Any) -> tuple[int, Any]:
    for reviewer in body.get("reviewers", []):
        if reviewer["type"] not in ("User", "Team") or not isinstance(reviewer["id"], int):
            return 422, {"message": "Invalid reviewer"}
    state.environments[g["env"]] = body
    state.policies.setdefault(g["env"], {})
    return 200, {"name": g["env"], **body}


def _policies(state: GitHubState, method: str, g: dict[str, str], body: Any) -> tuple[int, Any]:
    if g["env"] not in state.environments:
        return NOT_FOUND
    policies = state.policies[g["env"]]
    if method == "GET":
        listed = [{"id": i, **p} for i, p in policies.items()]
        return 200, {"total_count": len(listed), "branch_policies": listed}
    if any(p == body for p in policies.values()):
        return 303, {"message": "already exists"}
    policy_id = state.new_id()
    policies[policy_id] = {"name": body["name"], "type": body.get("type", "branch")}
    return 200, {"id": policy_id, **policies[policy_id]}


def _policy(state: GitHubState, _: str, g: dict[str, str], __: Any) -> tuple[int, Any]:
    if state.policies.get(g["env"], {}).pop(int(g["id"]), None) is None:
        return NOT_FOUND
    return 204, None


def _variables(state: GitHubState, method: str, g: dict[str, str], body: Any) -> tuple[int, Any]:
    scope = g.get("env", "")
    if scope and scope not in state.environments:
        return NOT_FOUND
    variables = state.variables.setdefault(scope, {})
    name = g.get("name")
    if method == "POST":
        if body["name"] in variables:
            return 409, {"message": "Already exists"}
        variables[body["name"]] = body["value"]
        return 201, {}
    if name not in variables:
        return NOT_FOUND
    if method == "PATCH":
        variables[name] = body["value"]
        return 204, None
    return 200, {"name": name, "value": variables[name]}


def _rulesets(state: GitHubState, method: str, g: dict[str, str], body: Any) -> tuple[int, Any]:
    if method == "GET":
        return 200, [{"id": i, "name": r["name"]} for i, r in state.rulesets.items()]
    if any(r["name"] == body["name"] for r in state.rulesets.values()):
        return 422, {"message": "Name must be unique"}
    ruleset_id = state.new_id()
    state.rulesets[ruleset_id] = body
    return 201, {"id": ruleset_id, **body}


def _ruleset(state: GitHubState, _: str, g: dict[str, str], body: Any) -> tuple[int, Any]:
    if int(g["id"]) not in state.rulesets:
        return NOT_FOUND
    state.rulesets[int(g["id"])] = body
    return 200, {"id": int(g["id"]), **body}


REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
ENV = REPO + r"/environments/(?P<env>[^/]+)"
ROUTES: list[tuple[str, dict[str, Route]]] = [
    (REPO, {"GET": _repository}),
    (REPO + r"/actions/oidc/customization/sub", {"GET": _oidc_sub}),
    (r"/users/(?P<login>[^/]+)", {"GET": _user}),
    (r"/orgs/(?P<org>[^/]+)/teams/(?P<team>[^/]+)", {"GET": _team}),
    (ENV, {"PUT": _environment}),
    (ENV + r"/deployment-branch-policies", {"GET": _policies, "POST": _policies}),
    (ENV + r"/deployment-branch-policies/(?P<id>\d+)", {"DELETE": _policy}),
    (ENV + r"/variables", {"POST": _variables}),
    (ENV + r"/variables/(?P<name>[^/]+)", {"GET": _variables, "PATCH": _variables}),
    (REPO + r"/actions/variables", {"POST": _variables}),
    (REPO + r"/actions/variables/(?P<name>[^/]+)", {"GET": _variables, "PATCH": _variables}),
    (REPO + r"/rulesets", {"GET": _rulesets, "POST": _rulesets}),
    (REPO + r"/rulesets/(?P<id>\d+)", {"PUT": _ruleset}),
]
