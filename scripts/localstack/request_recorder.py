"""Run LocalStack, recording every AWS request it serves as JSON lines: `request_recorder.py LOG`.

Runs inside LocalStack's own virtualenv (it imports nothing from Hangar). LocalStack already logs
each served request to the `localstack.request.aws` logger with the parsed operation, its input and
the request headers as record attributes; this adds a handler that writes them out instead of
parsing log text. Requests LocalStack makes to itself (CloudFormation creating resources) go to
`localstack.request.internal.aws`, which is not recorded: only what the clients really sent is.
An operation LocalStack answers with an error (a service its free edition lacks) is recorded too:
the client sent it, so real AWS would have had to authorize it.
"""

import json
import logging
import re
import runpy
import sys
from typing import Any

CREDENTIAL = re.compile(r"Credential=([^/]+)/")


def _access_key(headers: dict[str, str]) -> str | None:
    authorization = headers.get("Authorization") or headers.get("authorization") or ""
    match = CREDENTIAL.search(authorization)
    return match.group(1) if match else None


def _issued_access_key(output: Any) -> str | None:
    """The access key STS handed out (AssumeRole*): later calls signed with it act as that role."""
    if isinstance(output, dict) and isinstance(output.get("Credentials"), dict):
        return output["Credentials"].get("AccessKeyId")
    return None


class RequestRecorder(logging.Handler):
    def __init__(self, path: str) -> None:
        super().__init__(level=logging.INFO)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        # "AWS %s.%s => %s" with (service, operation, status[, error code]) as its arguments
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) < 3:
            return
        entry = {
            "service": args[0],
            "operation": args[1],
            "status": args[2],
            "error": args[3] if len(args) > 3 else None,
            "account": getattr(record, "account_id", None),
            "region": getattr(record, "region", None),
            "access_key": _access_key(getattr(record, "request_headers", {}) or {}),
            "params": getattr(record, "input", None) or {},
            "issued_access_key": _issued_access_key(getattr(record, "output", None)),
        }
        # logging.Handler.handle holds the handler's lock around emit: lines never interleave.
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")


def main() -> None:
    path = sys.argv[1]
    del sys.argv[1:]  # LocalStack's entry point sees its usual command line
    logging.getLogger("localstack.request.aws").addHandler(RequestRecorder(path))
    runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
