"""Where a test sets its breakpoint in whichever project the contract names: the first statement
of the view that serves the contract's readiness path (else its health path), found by Django's
URL resolver. Run in the project's Django (`python -m hangar.devloop.in_project python
view_breakpoint.py`, or imported after `django.setup()`); as a script it prints
{"path", "file", "line"} as JSON."""

import ast
import inspect
import json
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from hangar.core.contract import contract


def served(paths: Sequence[str]) -> tuple[str, Callable[..., Any]]:
    from django.urls import Resolver404, resolve

    for path in paths:
        try:
            return path, resolve(path).func
        except Resolver404:
            continue
    sys.exit(f"no URL pattern serves any of {paths}")


def first_statement(view: Callable[..., Any]) -> int:
    lines, start = inspect.getsourcelines(view)
    (function,) = ast.parse(textwrap.dedent("".join(lines))).body
    body = function.body  # type: ignore[attr-defined]
    if ast.get_docstring(function) and len(body) > 1:  # type: ignore[arg-type]
        body = body[1:]  # a docstring runs no line of its own
    return int(start + body[0].lineno - 1)


def breakpoint_in_the_served_view() -> tuple[str, str, int]:
    """The path requested, the view's file and the line of its first statement."""
    app = contract()
    path, view = served((app.readiness_path, app.health_path))
    view_class = getattr(view, "view_class", None)  # a class-based view: its GET handler
    view = inspect.unwrap(view_class.get if view_class else view)
    return path, str(inspect.getsourcefile(view)), first_statement(view)


if __name__ == "__main__":
    import django

    sys.path.insert(0, str(contract().project_path))  # a script's path starts at its own folder
    django.setup()
    path, file, line = breakpoint_in_the_served_view()
    print(json.dumps({"path": path, "file": file, "line": line}))
