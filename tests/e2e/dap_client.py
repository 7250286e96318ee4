"""A minimal Debug Adapter Protocol client: what VS Code does, enough to prove breakpoints hit.

DAP frames are a `Content-Length: N` header, a blank line, then N bytes of JSON. debugpy's adapter
announces each debugged subprocess (Django's autoreloader runs the server in one) with a
`debugpyAttach` event, and the client opens a second session for it, as VS Code's
`subProcess: true` does.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

Message = dict[str, Any]


class DapError(AssertionError):
    pass


class DapSession:
    """One connection to debugpy's adapter; a reader thread sorts responses from events."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.settimeout(None)
        self.process_id: int | None = None  # the debuggee's pid, for subprocess sessions
        self._seq = 0
        self._lock = threading.Lock()
        self._responses: dict[int, queue.Queue[Message]] = {}
        self.events: queue.Queue[Message] = queue.Queue()
        self._reader = threading.Thread(target=self._read_forever, daemon=True)
        self._reader.start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def send(self, command: str, arguments: Message | None = None) -> int:
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._responses[seq] = queue.Queue(maxsize=1)
            message = {"seq": seq, "type": "request", "command": command}
            if arguments is not None:
                message["arguments"] = arguments
            body = json.dumps(message).encode()
            self._sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return seq

    def response(self, seq: int, timeout: float = 30.0) -> Message:
        try:
            reply = self._responses[seq].get(timeout=timeout)
        except queue.Empty:
            raise DapError(f"no response to request {seq} within {timeout}s") from None
        if not reply.get("success"):
            raise DapError(f"{reply.get('command')} failed: {reply.get('message')}")
        return reply

    def request(
        self, command: str, arguments: Message | None = None, timeout: float = 30.0
    ) -> Message:
        return self.response(self.send(command, arguments), timeout)

    def wait_event(self, name: str, timeout: float = 30.0) -> Message:
        """Return the next `name` event, dropping others (output, thread, module...) on the way."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                break
            if event.get("event") == name:
                return event
        raise DapError(f"no {name!r} event within {timeout}s")

    def _read_forever(self) -> None:
        stream = self._sock.makefile("rb")
        try:
            while True:
                length = 0
                while (line := stream.readline()) not in (b"\r\n", b""):
                    key, _, value = line.decode().partition(":")
                    if key.strip().lower() == "content-length":
                        length = int(value)
                if not length:
                    return
                message = json.loads(stream.read(length))
                if message["type"] == "response":
                    self._responses[message["request_seq"]].put(message)
                elif message["type"] == "event":
                    self.events.put(message)
        except (OSError, ValueError):
            return


def attach(
    host: str, port: int, breakpoints: dict[str, list[int]], config: Message | None = None
) -> DapSession:
    """Open a session and attach with `breakpoints` ({path: [lines]}), as VS Code's attach does."""
    session = DapSession(host, port)
    session.request(
        "initialize",
        {
            "clientID": "hangar-tests",
            "adapterID": "debugpy",
            "pathFormat": "path",
            "linesStartAt1": True,
            "columnsStartAt1": True,
        },
    )
    # debugpy answers `attach` only after configurationDone, so send it and collect the reply later.
    attach_seq = session.send("attach", {"justMyCode": False, "subProcess": True, **(config or {})})
    session.wait_event("initialized")
    for path, lines in breakpoints.items():
        reply = session.request(
            "setBreakpoints",
            {"source": {"path": path}, "breakpoints": [{"line": line} for line in lines]},
        )
        if not all(bp.get("verified", True) for bp in reply["body"]["breakpoints"]):
            raise DapError(f"breakpoints not verified: {reply['body']['breakpoints']}")
    session.request("configurationDone")
    session.response(attach_seq)
    return session


NUDGE_SECONDS = 5.0


def attach_subprocess(
    parent: DapSession,
    breakpoints: dict[str, list[int]],
    alive: Callable[[int], bool] | None = None,
    nudge: Callable[[], object] | None = None,
    timeout: float = 120.0,
) -> DapSession:
    """Wait for the adapter to announce a live debugged subprocess, then attach to it.

    A server process can be replaced before we get to it (a second file change restarts it
    again); the adapter still announces it, so announcements of exited processes are skipped.
    `alive` tells whether a debuggee pid still runs; the default looks on this host, a debuggee
    in a container needs a look inside its pid namespace. `nudge` (saving the file again) runs
    every few seconds while nothing is announced: right after a request, the reloader may be
    re-registering its watches, and a save in that moment goes unseen.
    """
    deadline = time.monotonic() + timeout
    while True:
        wait = NUDGE_SECONDS if nudge else timeout
        try:
            announced = parent.wait_event("debugpyAttach", timeout=wait)["body"]
        except DapError:
            if nudge is None or time.monotonic() > deadline:
                raise
            nudge()
            continue
        pid = int(announced["subProcessId"])
        if not (alive or _alive)(pid):
            continue
        endpoint = announced["connect"]
        session = attach(endpoint["host"], int(endpoint["port"]), breakpoints, announced)
        session.process_id = pid
        return session


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_stopped_at(session: DapSession, path: str, line: int, timeout: float = 30.0) -> int:
    """Wait for a `stopped` event and check the top frame is path:line; returns the thread id."""
    stopped = session.wait_event("stopped", timeout)["body"]
    thread_id = int(stopped["threadId"])
    frames = session.request("stackTrace", {"threadId": thread_id, "levels": 1})["body"]
    top = frames["stackFrames"][0]
    where = (top["source"].get("path"), top["line"])
    if where != (path, line):
        raise DapError(f"stopped at {where}, expected {(path, line)} (reason {stopped['reason']})")
    return thread_id
