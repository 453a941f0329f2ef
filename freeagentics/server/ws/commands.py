"""Simulation commands sent over the socket, run against the simulation service.

Service methods block (a ``step`` runs ticks on the caller's thread, or waits for a host
process to run them), so they run in a worker thread, as FastAPI runs plain ``def``
routes; the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
from typing import Any

from freeagentics.errors import ConfigurationError, FreeAgenticsError, LimitError, UnknownIdError
from freeagentics.hosts import HostUnavailableError

__all__ = ["CommandError", "run_command"]


class CommandError(Exception):
    """A command that failed; ``code`` and the message go into the ack."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _int_arg(args: dict[str, Any], name: str, default: int | None = None) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError("bad_argument", f"args.{name} must be an integer, got {value!r}")
    return value


def _call(service: Any, action: str, sim_id: Any, args: dict[str, Any]) -> Any:
    if action == "start":
        return service.start(sim_id)
    if action == "pause":
        return service.pause(sim_id)
    if action == "step":
        return service.step(sim_id, _int_arg(args, "n", 1))
    kind = args.get("kind")
    if not isinstance(kind, str):
        raise CommandError("bad_argument", f"args.kind must be a kind name, got {kind!r}")
    return service.add_agents(sim_id, kind, _int_arg(args, "count", 1))


def _service_id(sim_id: str | int) -> Any:
    if isinstance(sim_id, str) and sim_id.isascii() and sim_id.isdigit():
        return int(sim_id)  # the service numbers its simulations
    return sim_id


async def run_command(service: Any, action: str, sim_id: str | int, args: dict[str, Any]) -> Any:
    """Run ``action`` on ``sim_id``; its result, or :class:`CommandError`."""
    try:
        return await asyncio.to_thread(_call, service, action, _service_id(sim_id), args)
    except CommandError:
        raise
    except UnknownIdError as exc:
        raise CommandError("unknown_id", str(exc)) from None
    except LimitError as exc:  # the same limits as REST, named in the message
        raise CommandError("limit_exceeded", str(exc)) from None
    except ConfigurationError as exc:
        raise CommandError("bad_argument", str(exc)) from None
    except FreeAgenticsError as exc:  # ConflictError and kin: the state does not allow it
        raise CommandError("conflict", str(exc)) from None
    except HostUnavailableError as exc:  # the simulation host is restarting, or gone
        raise CommandError("unavailable", str(exc)) from None
    except Exception as exc:  # report, and keep the connection
        raise CommandError("failed", f"{type(exc).__name__}: {exc}") from None
