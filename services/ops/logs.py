"""Log records as JSON lines, with the standard library: a small `logging.Formatter`.

Why not python-json-logger: the lines have a handful of fixed fields plus what a caller passes
in `extra=`, which is some twenty lines of code; the library would add a dependency (one that
went unmaintained once already and changed hands) for no field we need.

One line per record: `time` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`,
then the record's extra fields (`request_id` during a request, the request line's `method`,
`path`, `status`...), and `exception` (the formatted traceback) when there is one.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# The attributes every LogRecord has: anything else on a record came from `extra=` or a filter.
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted (gunicorn's, or a test's
    capture), not the one there was when the handler was made."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def json_handler(*filters: logging.Filter) -> logging.Handler:
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    for log_filter in filters:
        handler.addFilter(log_filter)
    return handler
