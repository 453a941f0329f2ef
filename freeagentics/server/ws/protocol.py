"""Messages a client sends over the socket, and the replies it gets.

A client message is a JSON object in a text frame or a MessagePack map in a binary
frame; replies come back in the same encoding as the message they answer. ``id`` is
the client's own (string or integer, echoed verbatim) so it can match replies and
measure true round trips.

Client → server::

    {"type": "auth", "id": 1, "token": "<jwt>"}            or "api_key": "..."
    {"type": "subscribe", "id": 2, "topic": "world", "sim_id": "s1", "format": "msgpack"}
    {"type": "subscribe", "id": 3, "topic": "agent", "sim_id": "s1", "agent_id": 7}
    {"type": "unsubscribe", "id": 4, "topic": "world", "sim_id": "s1"}
    {"type": "command", "id": 5, "action": "step", "sim_id": "s1", "args": {"n": 10}}
    {"type": "ping", "id": 6}

``topic`` is one of ``world``, ``agent`` (needs ``agent_id``), ``coalitions``,
``knowledge``, ``metrics``; ``format`` is ``json`` (default) or ``msgpack``.
``action`` is ``start``, ``pause``, ``step`` (``args.n``, default 1) or ``add_agents``
(``args.kind``, ``args.count``).

Server → client (besides frames, see :mod:`freeagentics.server.ws.frames`)::

    {"type": "ack", "id": 5, "ok": true, "result": ...}
    {"type": "ack", "id": 5, "ok": false, "code": "forbidden", "error": "..."}
    {"type": "ack", "id": 5, "ok": false, "code": "busy", "error": "...", "retry_after": 1.0}
    {"type": "pong", "id": 6, "t": 1712345678.123}        server clock, seconds
    {"type": "error", "id": null, "code": "bad_json", "error": "..."}

Frames carry the newest state of their topic, not every tick: the server sends at most
``frame_rate_hz`` per simulation, and when its egress budget
(``ws_egress_bytes_per_s``) or a client's socket cannot take them all, a client gets
its topics' newest frames at a lower rate, never a backlog (coalition frames, which
carry changes, are kept in order up to ``ws_queue_size``). Replies are not frames: they
are never held back for the budget, nor queued behind frames.

Error codes: ``bad_json``, ``bad_msgpack``, ``invalid_message`` (failed validation;
the message says which field), ``too_large``, ``unauthorized``, ``forbidden``,
``unknown_id``, ``bad_argument``, ``conflict`` (the simulation's state does not allow
it), ``busy`` (too many commands of this connection, or of the whole server
(``ws_max_commands_in_flight``), still running: the command was not run; ``retry_after``
says how many seconds to wait before sending it again), ``unavailable`` (the simulation
host is restarting or gone), ``host_timeout`` (the host did not answer within
``host_call_timeout_seconds``; the message names the method and the deadline, and the
command may still complete on the host), ``failed``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgpack
import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

__all__ = [
    "MAX_MESSAGE_BYTES",
    "AuthMessage",
    "ClientMessage",
    "CommandMessage",
    "MalformedMessage",
    "PingMessage",
    "SubscribeMessage",
    "UnsubscribeMessage",
    "parse",
]

#: larger client messages are refused without being parsed
MAX_MESSAGE_BYTES = 64 * 1024

MessageId = Annotated[str, Field(max_length=128)] | int | None
#: the service numbers its simulations; names of other processes' simulations are text
SimId = (
    Annotated[int, Field(ge=0)]
    | Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: MessageId = None


class AuthMessage(_Message):
    """Credentials sent as the first message (when the handshake carried none)."""

    type: Literal["auth"]
    token: str | None = Field(None, max_length=8192)
    api_key: str | None = Field(None, max_length=1024)


class _TopicMessage(_Message):
    topic: Literal["world", "agent", "coalitions", "knowledge", "metrics"]
    sim_id: SimId
    agent_id: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _agent_needs_id(self) -> _TopicMessage:
        if (self.topic == "agent") != (self.agent_id is not None):
            raise ValueError("agent_id is required for topic 'agent' and only for it")
        return self


class SubscribeMessage(_TopicMessage):
    type: Literal["subscribe"]
    format: Literal["json", "msgpack"] = "json"


class UnsubscribeMessage(_TopicMessage):
    type: Literal["unsubscribe"]


class CommandMessage(_Message):
    """A simulation command; always acknowledged with the client's ``id``."""

    type: Literal["command"]
    action: Literal["start", "pause", "step", "add_agents"]
    sim_id: SimId
    args: dict[str, Any] = Field(default_factory=dict)


class PingMessage(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    AuthMessage | SubscribeMessage | UnsubscribeMessage | CommandMessage | PingMessage,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientMessage)


class MalformedMessage(ValueError):
    """A client message that could not be used; ``code`` and ``id`` go into the error frame."""

    def __init__(self, code: str, message: str, id: Any = None):
        super().__init__(message)
        self.code, self.message, self.id = code, message, id


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _salvage_id(raw: Any) -> Any:
    """The client's id from a message that failed validation, when it is a usable one."""
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and len(value) <= 128:
            return value
    return None


def parse(data: str | bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """The message in a text (JSON) or binary (MessagePack) frame of at most ``max_bytes``.

    Raises :class:`MalformedMessage` naming what is wrong.
    """
    if len(data) > max_bytes:
        raise MalformedMessage("too_large", f"message of {len(data)} bytes over {max_bytes}")
    try:
        if isinstance(data, str):
            raw = orjson.loads(data)
        else:
            raw = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessage("bad_json", f"text frame is not JSON: {exc}") from None
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise MalformedMessage("bad_msgpack", f"binary frame is not MessagePack: {exc}") from None
    if not isinstance(raw, dict):
        kind = type(raw).__name__
        raise MalformedMessage("invalid_message", f"message must be an object, not {kind}")
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise MalformedMessage("invalid_message", _describe(exc), _salvage_id(raw)) from None
