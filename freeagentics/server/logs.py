"""The server's logging: readable text, or one JSON object per line for log pipelines.

:func:`log_config` is the ``logging.config.dictConfig`` mapping ``serve`` hands to
uvicorn (``FREEAGENTICS_LOG_FORMAT=json`` in production behind a log shipper). A JSON
line carries ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; an access
line adds ``client``, ``method``, ``path``, ``status`` and ``http_version``; a record
with an exception adds ``exception`` (the formatted traceback).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["LOG_FORMATS", "JsonFormatter", "log_config"]

LOG_FORMATS = ("text", "json")
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # uvicorn's access record: (client, method, path, http version, status)
            entry.update(zip(_ACCESS_FIELDS, record.args, strict=False))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """A dictConfig for the server's and uvicorn's loggers in ``log_format``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {LOG_FORMATS}, got {log_format!r}")
    if log_format == "json":
        formatter: dict[str, Any] = {"()": JsonFormatter}
        access = formatter
    else:
        formatter = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
        access = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter, "access": access},
        "handlers": {
            "default": {**handler, "formatter": "default"},
            "access": {**handler, "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "freeagentics": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
    }
