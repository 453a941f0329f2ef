"""Simulation commands sent over the socket, run against the simulation service.

Service methods block (a ``step`` runs ticks on the caller's thread, or waits for a host
process to run them), so they run on the threads of the process's
:class:`~freeagentics.server.ws.command_pool.CommandPool`, which holds a bounded number
of them; the event loop keeps serving, and never waits for a host itself. A host that
does not answer within its call deadline is a ``host_timeout`` ack naming the method
(the command may still complete on the host); one that is restarting or gone, an
``unavailable`` ack.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from freeagentics.errors import ConfigurationError, FreeAgenticsError, LimitError, UnknownIdError
from freeagentics.hosts import HostTimeoutError, HostUnavailableError
from freeagentics.server.ws.command_pool import CommandPool

__all__ = ["CommandError", "command_result", "host_error", "submit_command"]


class CommandError(Exception):
    """A command that failed; ``code``, the message and ``retry_after`` (seconds, when
    the client should try again later) go into the ack."""

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


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


def host_error(exc: HostUnavailableError) -> CommandError:
    """The ack's error for a host that did not answer: ``host_timeout`` for a call past
    its deadline, ``unavailable`` for a host restarting or gone."""
    if isinstance(exc, HostTimeoutError):
        return CommandError("host_timeout", str(exc))
    return CommandError("unavailable", str(exc))


def submit_command(
    pool: CommandPool, service: Any, action: str, sim_id: str | int, args: dict[str, Any]
) -> Awaitable[Any] | None:
    """Start ``action`` on ``sim_id`` on ``pool``'s threads: what :func:`command_result`
    awaits, or None when the pool holds all the commands it may (call on the loop)."""
    return pool.submit(_call, service, action, _service_id(sim_id), args)


async def command_result(pending: Awaitable[Any]) -> Any:
    """The result of a command :func:`submit_command` started, or :class:`CommandError`."""
    try:
        return await pending
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
    except HostUnavailableError as exc:  # the host is restarting or gone, or took too long
        raise host_error(exc) from None
    except Exception as exc:  # report, and keep the connection
        raise CommandError("failed", f"{type(exc).__name__}: {exc}") from None
