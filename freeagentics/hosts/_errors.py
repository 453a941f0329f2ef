"""Errors of the host seam, and the service's errors across it.

A host raises the same exceptions a :class:`~freeagentics.server.services.SimulationService`
in this process would (:mod:`freeagentics.errors`, and
:class:`~freeagentics.simulation.scenario.ScenarioError` with its ``problems``), so the
REST and WebSocket layers map them as they always did. Over a transport they travel as
``{"type", "message", ...attributes}`` (:func:`error_to_wire`) and are raised again on
the caller's side (:func:`error_from_wire`); a type not in the table travels as its
nearest known base class, and an exception that is not a FreeAgentics error (a bug)
arrives as :class:`HostError`. Three errors belong to the seam itself::

    RuntimeError
    ├── HostUnavailableError   the host does not answer (starting, restarting, or gone)
    │   └── HostTimeoutError   one call did not answer within its deadline (it may still
    │                          complete on the host); ``method`` and ``timeout_s`` name it
    └── HostError              the host failed unexpectedly; the message names the exception
"""

from __future__ import annotations

from typing import Any

from freeagentics import errors as fa

__all__ = [
    "HostError",
    "HostTimeoutError",
    "HostUnavailableError",
    "error_from_wire",
    "error_to_wire",
]


class HostUnavailableError(RuntimeError):
    """The simulation host does not answer: it is starting, restarting, or gone."""


class HostTimeoutError(HostUnavailableError):
    """A call to the host that did not answer within its deadline.

    The caller stopped waiting; the host may still be running the call and may still
    complete it (a ``step`` goes on ticking), so a retry is not always harmless. Being a
    :class:`HostUnavailableError`, it is handled wherever an unavailable host is, unless
    a handler tells the two apart (HTTP 504 ``host_timeout`` rather than 503).

    Args:
        method: the host method called.
        timeout_s: the deadline it missed, in seconds.
        message: the words for the caller (default: names the method and the deadline,
            and says the call may still complete).
    """

    def __init__(self, method: str, timeout_s: float, message: str | None = None):
        self.method, self.timeout_s = method, float(timeout_s)
        super().__init__(
            message
            or f"the simulation host did not answer {method} within {timeout_s:g} s; "
            "the call may still complete on the host"
        )

    def __reduce__(self) -> tuple:  # its arguments are not its message alone
        return type(self), (self.method, self.timeout_s, str(self))


class HostError(RuntimeError):
    """The host failed in a way that is not a FreeAgentics error (a bug on its side)."""


def _scenario_error() -> type[Exception]:
    # imported when used: the scenario module loads the simulation package
    from freeagentics.simulation.scenario import ScenarioError

    return ScenarioError


#: the errors that cross by name, most derived first (the first isinstance match wins)
_PLAIN = (
    fa.CheckpointError,
    fa.LimitError,
    fa.SpecError,
    fa.ModelError,
    fa.ObservationError,
    fa.ConfigurationError,
    fa.ConflictError,
    fa.UnknownIdError,
    fa.FreeAgenticsError,
)


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """``exc`` as a map: its type's name (or nearest known base), message and attributes."""
    if isinstance(exc, HostTimeoutError):  # a host that waited on another
        return {
            "type": "HostTimeoutError",
            "message": str(exc),
            "method": exc.method,
            "timeout_s": exc.timeout_s,
        }
    if isinstance(exc, HostUnavailableError):  # a host that is itself not ready
        return {"type": "HostUnavailableError", "message": str(exc)}
    scenario = _scenario_error()
    if isinstance(exc, scenario):
        return {"type": "ScenarioError", "problems": list(exc.problems), "where": exc.where}
    for cls in _PLAIN:
        if isinstance(exc, cls):
            doc: dict[str, Any] = {"type": cls.__name__, "message": str(exc)}
            if isinstance(exc, fa.LimitError):
                doc["limit"] = exc.limit
            elif isinstance(exc, fa.SpecError):
                doc["path"] = exc.path
            elif isinstance(exc, fa.ModelError):
                doc["array"] = exc.array
                doc["index"] = list(exc.index) if exc.index is not None else None
            return doc
    return {"type": "HostError", "message": f"{type(exc).__name__}: {exc}"}


def _text(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    return value if isinstance(value, str) else None


def error_from_wire(doc: Any) -> Exception:
    """The exception a :func:`error_to_wire` map describes (HostError for anything else)."""
    if not isinstance(doc, dict):
        return HostError(f"the host sent an error of the wrong shape: {doc!r:.200}")
    kind, message = doc.get("type"), _text(doc, "message") or ""
    if kind == "ScenarioError":
        problems = doc.get("problems")
        if isinstance(problems, list) and all(isinstance(p, str) for p in problems):
            return _scenario_error()(problems, where=_text(doc, "where"))
    by_name: dict[str, type[Exception]] = {cls.__name__: cls for cls in _PLAIN}
    by_name["HostUnavailableError"] = HostUnavailableError
    if kind == "HostTimeoutError":
        timeout = doc.get("timeout_s")
        seconds = float(timeout) if isinstance(timeout, int | float) else 0.0
        return HostTimeoutError(_text(doc, "method") or "?", seconds, message or None)
    if kind == "LimitError":
        return fa.LimitError(message, limit=_text(doc, "limit") or "unknown")
    if kind == "SpecError":
        return fa.SpecError(message, path=_text(doc, "path"))
    if kind == "ModelError":
        index = doc.get("index")
        return fa.ModelError(
            message,
            array=_text(doc, "array"),
            index=tuple(index) if isinstance(index, list) else None,
        )
    if kind in by_name:
        return by_name[kind](message)
    return HostError(message or f"the host failed ({kind!r})")
