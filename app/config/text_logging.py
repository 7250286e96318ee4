"""The development log format, one line per record whatever the record holds.

A request path, a username or an exception message can carry CR, LF or other control characters;
written as they are, they start what reads as another log line. They are escaped here (`\r`, `\n`,
`\x1b`, `\u2028`), as Django escapes the paths it logs itself, and printable text stays as it is.
A traceback, which the formatter appends after the line, keeps its own lines. The JSON format
(production) needs none of this: JSON strings escape them.
"""

import logging
import re

# C0 controls, DEL, C1 controls (NEL among them), and Unicode's line and paragraph separators.
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    return _LINE_BREAKING.sub(lambda match: match[0].encode("unicode_escape").decode(), text)


class TextFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))
