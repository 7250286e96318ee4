"""`hangar` (and `python -m hangar`): the entry point, importing nothing but the standard library
before it handles Ctrl-C and SIGTERM.

The commands import boto3, Django's tooling and the CDK driver: seconds on a loaded machine. A
Ctrl-C in that time ends the command with "interrupted" like one anywhere later, not with a
traceback of an import; SIGTERM (a CI job cancelled, `kill`) ends a command as Ctrl-C does, so
its children are stopped on the way out instead of being left running. A reader that goes away
(`hangar doctor | head`) ends the command quietly, as it ends `yes`.
"""

import os
import signal
import sys

# The status of a process that SIGPIPE killed, which a shell reports for `yes | head`.
BROKEN_PIPE_STATUS = 128 + signal.SIGPIPE


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from hangar import cli

        return cli.main()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: we are leaving already
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Python's own flush of stdout at exit would fail again and print a warning.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
