"""`hangar` (and `python -m hangar`): the entry point, importing nothing but the standard library
before it handles Ctrl-C and SIGTERM.

The commands import boto3, Django's tooling and the CDK driver: seconds on a loaded machine. A
Ctrl-C in that time ends the command with "interrupted" like one anywhere later, not with a
traceback of an import; SIGTERM (a CI job cancelled, `kill`) ends a command as Ctrl-C does, so
its children are stopped on the way out instead of being left running.
"""

import signal
import sys


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


if __name__ == "__main__":
    sys.exit(main())
