"""Keep credentials out of the logs: ``?api_key=`` and ``?token=`` values are masked.

Browsers cannot set headers on a WebSocket, so clients put credentials in the URL, and
uvicorn writes the URL, query string included, to its access and error logs. The
:class:`RedactCredentials` filter rewrites each record's message and arguments before
any handler formats them.
"""

from __future__ import annotations

import logging
import re

__all__ = ["LOGGERS", "RedactCredentials", "install_log_redaction", "redact"]

#: the loggers that write request lines (uvicorn's HTTP access log and WebSocket lines)
LOGGERS = ("uvicorn.access", "uvicorn.error")
_CREDENTIAL = re.compile(r"((?:^|[?&;\s])(?:api_key|token|access_token)=)[^&;\s\"']*", re.I)
MASK = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every credential query parameter's value masked."""
    return _CREDENTIAL.sub(rf"\1{MASK}", text) if "=" in text else text


def _clean(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactCredentials(logging.Filter):
    """Masks credential query parameters in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


def install_log_redaction() -> None:
    """Add the filter to uvicorn's loggers, once (logging configuration keeps it)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())
