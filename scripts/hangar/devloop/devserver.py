"""The dev server `make dev` runs: a warm parent that forks a fresh Django server on every save.

Django's own autoreloader starts a new interpreter per change, which then imports Python's start-up,
Django and every dependency again (about a second here). This parent imports the framework and the
dependencies once, binds the listening socket once, watches the source tree with watchfiles, and
on each change forks a new child and retires the old one, which stops accepting and finishes the
requests it is answering. The child imports only the app: it runs the app's own
`manage.py runserver --noreload` on the inherited socket, so settings, system checks, the static
files handler and the banner are exactly runserver's. Connections that arrive while the children
swap wait in the socket's backlog instead of being refused.

The parent never imports the app's settings or modules: a fork carries them over, so a change to
any of them would not be seen. Under `python -m debugpy --listen`, debugpy follows each forked
child (pydevd patches os.fork) and announces it to the attached editor, as it announced Django's
reloader subprocesses, so breakpoints keep working across reloads (tests/e2e/test_debugger_host.py
and test_compose_dev_loop.py prove it). It runs in the dev container too, so it imports nothing but
the standard library, Django and watchfiles.

Usage, from the Django project directory: python -m hangar.devloop.devserver [HOST:]PORT
"""

import contextlib
import importlib
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import watchfiles

# Imported once in the parent: what every child would otherwise import again. Framework and
# third-party modules only, each importable without settings; the app's come after the fork.
WARM_MODULES = (
    "django.contrib.staticfiles.management.commands.runserver",
    "django.core.management.commands.migrate",
    "django.core.handlers.wsgi",
    "django.db.models",
    "django.db.backends.postgresql.base",
    "django.db.backends.sqlite3.base",
    "django.contrib.admin",
    "django.contrib.messages.views",
    "django.contrib.staticfiles.handlers",
    "django.forms",
    "django.template.loader",
    "django.views.generic",
    "environ",
    "psycopg",
    "boto3",
    "botocore.session",
    "storages.backends.s3",
    "whitenoise.middleware",
    "filetype",
)
# What a save can change: code, templates, translations. SQLite's database and journal, uploads
# and editors' swap files are written while the server runs and must not restart it.
WATCHED_SUFFIXES = (".py", ".html", ".txt", ".mo")
# On a save the old child stops accepting and finishes the requests it owes for at most
# DRAIN_SECONDS, beside the new child, which serves at once; one still there after RETIRE_SECONDS
# (all its threads paused in the debugger, say) is killed. When the server itself stops (Ctrl-C,
# `make down`) every child gets STOP_TIMEOUT.
DRAIN_SECONDS = 10.0
RETIRE_SECONDS = DRAIN_SECONDS + 2.0
STOP_TIMEOUT = 1.0
# How long the watcher waits for a change before it reports an empty batch: the delay before the
# first child starts (see serve_and_reload), and how soon a child that stopped is noticed.
WATCH_TIMEOUT_MS = 200


class SourceFilter(watchfiles.DefaultFilter):
    """Saves in the Django project, and the env file `make deploy-local` rewrites (the stack's
    bucket and queue names then apply at once, e.g. in the dev container, whose server starts
    before its post-start command deploys the stage)."""

    def __init__(self, source: Path, env_file: Path) -> None:
        super().__init__()
        self.source = f"{source}{os.sep}"
        self.env_file = str(env_file)

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if path == self.env_file:
            return True
        return (
            path.startswith(self.source)
            and path.endswith(WATCHED_SUFFIXES)
            and super().__call__(change, path)
        )


def local_env_file(source: Path) -> Path:
    """Where `make deploy-local` writes the local stage's values (HANGAR_ENV_FILE overrides)."""
    explicit = os.environ.get("HANGAR_ENV_FILE")
    return Path(explicit).resolve() if explicit else source.parent / ".hangar" / "local.env"


def parse_address(argument: str) -> tuple[str, int]:
    host, _, port = argument.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.create_server((host, port), family=family, backlog=128)
    listener.set_inheritable(True)
    # Two children share it while one retires: the one that loses a connection to the other must
    # go back to waiting, not block in accept().
    listener.setblocking(False)
    return listener


def warm_up() -> None:
    for name in WARM_MODULES:
        # A module the environment lacks (e.g. another database driver) is the child's to import.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def serve(listener: socket.socket, address: str) -> None:
    """In the child: run the app's `manage.py runserver` on the parent's socket."""
    from django.core.management.commands import runserver
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

    open_connections: set[socket.socket] = set()
    # Connections with a request being answered, and those that have had one answered: an accepted
    # connection in neither is a client whose request is still on its way, owed an answer too.
    answering: set[Any] = set()
    answered: set[Any] = set()
    # SIGTERM only asks the accept loop to end (see stop_accepting): the handler can run between
    # an accept() and the connection's registration, so it must not decide what is still owed.
    stopping = threading.Event()
    wake_up, wake = os.pipe()

    class CountedRequestHandler(WSGIRequestHandler):
        def parse_request(self) -> bool:
            answering.add(self.connection)  # called once the request line has arrived
            return super().parse_request()

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            finally:
                answering.discard(self.connection)
                answered.add(self.connection)

    class HandedOverServer(WSGIServer):
        """runserver's server, on the socket the parent bound instead of a new one."""

        def server_bind(self) -> None:
            self.RequestHandlerClass = CountedRequestHandler
            self.socket.close()
            self.socket = listener
            self.server_address = listener.getsockname()
            host, self.server_port = listener.getsockname()[:2]
            self.server_name = str(host)
            self.setup_environ()

        def server_activate(self) -> None:
            """Already listening: the parent called listen()."""

        def verify_request(self, request: Any, client_address: Any) -> bool:
            open_connections.add(request)  # in the main thread, right after accept()
            return True

        def shutdown_request(self, request: Any) -> None:
            open_connections.discard(request)
            answered.discard(request)
            super().shutdown_request(request)

        def serve_forever(self, poll_interval: float = 0.5) -> None:
            """socketserver's loop, woken by SIGTERM instead of polled: then answer and exit."""
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                selector.register(wake_up, selectors.EVENT_READ)
                while not stopping.is_set():
                    ready = {key.fd for key, _ in selector.select()}
                    if self.socket.fileno() in ready and not stopping.is_set():
                        # Accept, register, hand to a thread; the socket never blocks, so
                        # a connection the other child took first is no wait.
                        self.handle_request()
                    self.service_actions()
            finish_answers_then_exit()

    def owes_an_answer(connection: socket.socket) -> bool:
        return (
            connection in answering or connection not in answered or _has_unread_bytes(connection)
        )

    def finish_answers_then_exit() -> None:
        # New connections now wait in the backlog for the next child. Exiting with a request
        # unread, or not yet arrived on a connection just accepted, would reset it; idle
        # kept-alive ones may close (clients open a new one). A request held at a breakpoint is
        # cut off after DRAIN_SECONDS.
        deadline = time.monotonic() + DRAIN_SECONDS
        while any(map(owes_an_answer, list(open_connections))) and time.monotonic() < deadline:
            time.sleep(0.005)
        os._exit(0)

    def stop_accepting(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        os.write(wake, b"x")  # ends the select() the handler interrupted

    runserver.Command.server_cls = HandedOverServer
    signal.signal(signal.SIGTERM, stop_accepting)
    sys.argv = ["manage.py", "runserver", "--noreload", address]
    runpy.run_path("manage.py", run_name="__main__")


def _has_unread_bytes(connection: socket.socket) -> bool:
    try:
        return bool(connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing to read yet (BlockingIOError), or already closed
        return False


def start(listener: socket.socket, address: str) -> int:
    with warnings.catch_warnings():
        # The other threads are watchfiles' and debugpy's; the child uses neither's locks.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            with contextlib.suppress(KeyboardInterrupt):  # stopped before serve() took SIGTERM
                serve(listener, address)
        except BaseException:  # e.g. a syntax error in a view: show it as runserver would
            traceback.print_exc()
        finally:
            os._exit(1)  # runserver only returns by an error; never back into the parent's loop
    return pid


def exited(pid: int | None) -> bool:
    """Reap the child if it has exited."""
    return pid is not None and os.waitpid(pid, os.WNOHANG) != (0, 0)


def retire(pid: int | None, retiring: dict[int, float]) -> None:
    """Ask the serving child to finish what it is answering and exit, without waiting for it."""
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        retiring[pid] = time.monotonic() + RETIRE_SECONDS


def reap(retiring: dict[int, float]) -> None:
    """Forget retired children that have exited; kill those past their deadline."""
    for pid, deadline in list(retiring.items()):
        if exited(pid):
            del retiring[pid]
        elif time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            del retiring[pid]


def stop(pids: Iterable[int | None]) -> None:
    """Stop every child (even one paused at a breakpoint) and reap them, side by side."""
    alive = {pid for pid in pids if pid is not None}
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if not exited(pid)}
        time.sleep(0.01)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # As PID 1 in a container SIGTERM is ignored unless handled: `docker stop` would wait 10 s.
    # Once: a second SIGTERM while exiting (debugpy waits for its threads then) would print a
    # KeyboardInterrupt traceback from inside that wait; SIGKILL still ends a stuck exit.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    address = argv[0] if argv else "127.0.0.1:8000"
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Stopped (Ctrl-C, `make down`), even before the first child ran: quietly.
    with contextlib.suppress(KeyboardInterrupt):
        serve_and_reload(address)
    return 0


def serve_and_reload(address: str) -> None:
    listener = listen(*parse_address(address))
    warm_up()
    source = Path.cwd().resolve()
    env_file = local_env_file(source)
    with contextlib.suppress(OSError):  # watched before it exists; a read-only checkout has none
        env_file.parent.mkdir(exist_ok=True)
    child: int | None = None
    retiring: dict[int, float] = {}
    # step: how long the tree must be quiet before a batch of changes is reported (ms); every
    # rust_timeout ms without one, an empty batch lets the loop look after the child.
    changes_in_tree = watchfiles.watch(
        *{source, env_file.parent} if env_file.parent.is_dir() else {source},
        watch_filter=SourceFilter(source, env_file),
        step=20,
        rust_timeout=WATCH_TIMEOUT_MS,
        yield_on_timeout=True,
    )
    try:
        # Watching before the first child serves: watchfiles registers the tree on the first
        # step, and a save made once the server answered but before then was never seen (a
        # project at the repository's root has its .venv and node_modules in the tree: seconds on
        # a loaded machine). What this first step reports, the child about to start imports.
        next(changes_in_tree)
        child = start(listener, address)
        for changes in changes_in_tree:
            reap(retiring)
            if not changes:
                if exited(child):
                    child = None
                    print(
                        "The server stopped (see above); it starts again on the next save.",
                        flush=True,
                    )
                continue
            names = ", ".join(sorted({os.path.relpath(path, source) for _, path in changes}))
            print(f"{names} changed, reloading.", flush=True)
            retire(child, retiring)
            child = start(listener, address)
    finally:
        stop([child, *retiring])


if __name__ == "__main__":
    sys.exit(main())
