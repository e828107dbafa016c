"""Logging: one handler on the root logger, JSON lines in production, a request id on every record.

Every logger we know of — ours, Uvicorn's, Gunicorn's — ends in the same handler and
formatter, so a production log is one JSON object per line whatever wrote it. The request
id comes from a context variable that the request middleware sets; outside a request it
is ``-``.

Two entry points, one shape:

- ``configure_logging(settings)``: called by ``create_app()``; works under any ASGI server
  because it runs after the server has set up its own logging.
- ``gunicorn_logconfig(settings)``: for ``logconfig_dict`` in ``fastboard.gunicorn_conf``, the same
  for the Gunicorn master.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from fastboard.settings import Settings

NO_REQUEST = "-"
request_id_var: ContextVar[str] = ContextVar("fastboard_request_id", default=NO_REQUEST)

HANDLER_NAME = "fastboard"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
}
# Uvicorn passes an ANSI-coloured copy of its message as an extra; it is noise in JSON.
_IGNORED_EXTRAS = frozenset({"color_message"})

_ROUTED_TO_ROOT = ("uvicorn", "uvicorn.error", "gunicorn.error", "gunicorn.access")
# Statements are logged at INFO here. Through logging rather than the engine's ``echo``,
# which adds a handler of its own and so printed every statement twice.
_SQL_LOGGER = "sqlalchemy.engine"
# The request middleware writes the access line (with the request id and route
# template); Uvicorn's own would be a second, poorer copy.
_SILENCED = ("uvicorn.access",)


# Characters that could end a log line, start a forged one or drive a terminal: C0 and C1
# controls (newline, carriage return, ESC…), DEL and the Unicode line separators. Clients
# put them in paths, queries and headers; exceptions repeat what they were given.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_READABLE = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    readable = _READABLE.get(char)
    if readable is not None:
        return readable
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` on one line, with nothing a terminal acts on: ``\\n``, ``\\x1b``…"""
    return _UNSAFE.sub(_escaped, text) if _UNSAFE.search(text) else text


# json.dumps escapes C0 controls but writes these as they are (ensure_ascii=False).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def current_request_id(record: logging.LogRecord | None = None) -> str:
    explicit = getattr(record, "request_id", None)
    return explicit if isinstance(explicit, str) and explicit else request_id_var.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra=`` fields become top-level keys."""

    def __init__(self, use_colors: bool | None = None) -> None:
        # ``use_colors`` is accepted because Uvicorn injects it into its formatter configs.
        super().__init__()

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(record),
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in _IGNORED_EXTRAS:
                payload.setdefault(key, value)
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc_info"] = record.exc_text
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        line = json.dumps(payload, default=str, ensure_ascii=False)
        if _JSON_UNSAFE.search(line):
            line = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
        return line


class TextFormatter(logging.Formatter):
    """Readable single lines for development, still carrying the request id.

    A record is one line, control characters escaped; a traceback follows on lines
    indented by two spaces, so every line that starts in the first column starts a record
    and no input can forge one.
    """

    def __init__(self, use_colors: bool | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = current_request_id(record)
        record.message = escape_controls(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        blocks = [record.exc_text] if record.exc_text else []
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            line += "".join(f"\n  {escape_controls(part)}" for part in block.split("\n"))
        return line


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at emit time.

    A stream captured when logging was configured goes stale when a test runner or a
    process manager swaps ``sys.stderr`` later; looking it up per record cannot.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.json_logs else TextFormatter()


def _level(settings: Settings) -> str:
    return settings.log_level.upper()


def configure_logging(settings: Settings) -> None:
    """Install the fastboard handler on the root logger; safe to call more than once.

    Only the handler named ``fastboard`` is replaced: handlers others installed on the
    root logger (a test runner's capture, say) are left alone.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
            handler.close()
    handler = StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(_formatter(settings))
    root.addHandler(handler)
    root.setLevel(_level(settings))

    for name in _ROUTED_TO_ROOT:
        logger = logging.getLogger(name)
        # Rebind rather than clear: uvicorn-worker makes uvicorn.error share the very
        # list object of gunicorn.error's handlers.
        logger.handlers = []
        logger.propagate = True
        # The servers set levels of their own (Uvicorn's --log-level): ours decides.
        logger.setLevel(logging.NOTSET)
    # NOTSET defers to SQLAlchemy's own default for its loggers: WARNING.
    logging.getLogger(_SQL_LOGGER).setLevel(logging.INFO if settings.db_echo else logging.NOTSET)
    for name in _SILENCED:
        logger = logging.getLogger(name)
        logger.handlers = []
        # With no handler anywhere up the chain Uvicorn skips building access lines.
        logger.propagate = False


def _dict_config(settings: Settings, own_handlers: tuple[str, ...]) -> dict[str, Any]:
    formatter_factory = (
        "fastboard.logs.JsonFormatter" if settings.json_logs else "fastboard.logs.TextFormatter"
    )
    loggers: dict[str, Any] = {
        name: {"handlers": [], "propagate": True} for name in _ROUTED_TO_ROOT
    }
    for name in own_handlers:
        loggers[name] = {"handlers": [HANDLER_NAME], "propagate": False}
    for name in _SILENCED:
        loggers[name] = {"handlers": [], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # Uvicorn writes ``use_colors`` into the formatters named "default" and "access".
        "formatters": {
            "default": {"()": formatter_factory},
            "access": {"()": formatter_factory},
        },
        "handlers": {
            HANDLER_NAME: {"class": "fastboard.logs.StderrHandler", "formatter": "default"}
        },
        "root": {"handlers": [HANDLER_NAME], "level": _level(settings)},
        "loggers": loggers,
    }


def gunicorn_logconfig(settings: Settings) -> dict[str, Any]:
    """A dict for Gunicorn's ``logconfig_dict``.

    Gunicorn's loggers get the handler directly (not through the root) because
    uvicorn-worker copies their handler lists onto Uvicorn's loggers before the app,
    and so ``configure_logging``, has run in the worker.
    """
    return _dict_config(settings, own_handlers=("gunicorn.error", "gunicorn.access"))
