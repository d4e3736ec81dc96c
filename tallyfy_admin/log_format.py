"""One log formatter for every handler: no line can carry a terminal escape or a forged line."""

from __future__ import annotations

import logging
import re

# C0 controls, DEL and C1 controls: a request's User-Agent or path may carry any of them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


class EscapingFormatter(logging.Formatter):
    """Control characters in a record become Python escapes (`\\x1b`, `\\n`), so each record is
    one line; a traceback keeps its line breaks, each of its lines indented so that none can
    pass for a record of its own."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        lines = [escape_controls(self.formatMessage(record))]
        if record.exc_info:
            lines.append(self._indented(self.formatException(record.exc_info)))
        elif record.exc_text:
            lines.append(self._indented(record.exc_text))
        if record.stack_info:
            lines.append(self._indented(self.formatStack(record.stack_info)))
        return "\n".join(lines)

    @staticmethod
    def _indented(text: str) -> str:
        return "\n".join(f"  {escape_controls(line)}" for line in text.splitlines())
