"""The ``/ws`` route: authenticate, then read client messages; sending is the client's.

Credentials come from the ``Authorization: Bearer`` header, an ``X-API-Key`` header,
``?token=`` / ``?api_key=`` in the URL (browsers cannot set headers on a WebSocket),
or, when the handshake carried none and anonymous access is refused, an ``auth``
message within :data:`AUTH_TIMEOUT_S`. Bad credentials close the socket with
:data:`~freeagentics.server.ws.client.CLOSE_UNAUTHORIZED` and the reason. Viewers may
subscribe; commands need an operator, checked per command (a refused command is
acknowledged with ``ok: false``, and the connection stays).

Before the handshake is accepted, a browser ``Origin`` other than the server's own or a
configured one is refused (403), and the client address must be within its budgets of
handshakes per minute and connections open (429; see :mod:`~freeagentics.server.gate`).
Failed authentications spend the address's budget, shared with HTTP; once it is spent
the socket is closed with :data:`~freeagentics.server.ws.client.CLOSE_RATE_LIMITED`.

Malformed messages, and messages over the connection's rate (``ws_messages_per_second``
sustained, ``ws_message_burst`` at once), are answered with an ``error`` frame naming the
problem (code ``rate_limited`` for the latter, which are not read); only
:data:`MAX_STRIKES` of them in a row close the connection (1008, policy violation).

Commands run on the process's :class:`~freeagentics.server.ws.command_pool.CommandPool`
(``app.state.commands``). A command past :data:`MAX_COMMANDS_IN_FLIGHT` of its
connection, or past the pool's ``ws_max_commands_in_flight`` for the whole process, is
answered at once with a ``busy`` ack carrying ``retry_after`` (seconds), never queued;
the connection, its subscriptions and its other messages are served as before.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgpack
import orjson
from fastapi import WebSocket
from fastapi.responses import JSONResponse

from freeagentics.errors import LimitError, UnknownIdError
from freeagentics.hosts import HostUnavailableError
from freeagentics.server.auth import AuthError, Principal, Role, require
from freeagentics.server.gate import Gate, RateLimited, gate_of, origin_refusal
from freeagentics.server.settings import Settings
from freeagentics.server.ws.client import (
    CLOSE_ABUSIVE,
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    Client,
)
from freeagentics.server.ws.command_pool import BUSY_RETRY_AFTER_S, CommandPool
from freeagentics.server.ws.commands import (
    CommandError,
    command_result,
    host_error,
    submit_command,
)
from freeagentics.server.ws.frames import Payload, Topic
from freeagentics.server.ws.hub import Hub
from freeagentics.server.ws.protocol import (
    AuthMessage,
    CommandMessage,
    MalformedMessage,
    PingMessage,
    SubscribeMessage,
    UnsubscribeMessage,
    parse,
)
from freeagentics.server.ws.wire import EXTENSION, DirectWriter

__all__ = [
    "AUTH_TIMEOUT_S",
    "MAX_COMMANDS_IN_FLIGHT",
    "MAX_STRIKES",
    "settings_of",
    "websocket_endpoint",
]

AUTH_TIMEOUT_S = 10.0
MAX_STRIKES = 10
#: commands one client may have running at once; more are refused, not queued
MAX_COMMANDS_IN_FLIGHT = 4
#: past websockets' own close timeout (10 s), after which it drops the connection itself
_CLOSE_TIMEOUT_S = 15.0


def settings_of(app: Any) -> Settings:
    """The app's settings (``app.state.settings``), or the environment's."""
    settings = getattr(app.state, "settings", None)
    if settings is None:
        settings = app.state.settings = Settings()
    return settings


def _jsonable(value: Any) -> Any:
    """A command's result as plain data (service results are dicts of builtins)."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=str))


class _Session:
    """One connection's reader side: parses messages, answers them through the client."""

    __slots__ = (
        "address",
        "allowance",
        "allowance_at",
        "client",
        "direct",
        "gate",
        "hub",
        "in_flight",
        "pending_auth_ack",
        "reader",
        "settings",
        "strikes",
        "tasks",
        "websocket",
    )

    def __init__(self, websocket: WebSocket, hub: Hub, settings: Any, gate: Gate):
        self.websocket, self.hub, self.settings, self.gate = websocket, hub, settings, gate
        self.address = websocket.client.host if websocket.client else "unknown"
        self.allowance = float(settings.ws_message_burst)  # messages it may send now
        self.allowance_at = time.monotonic()
        extensions = websocket.scope.get("extensions") or {}
        self.direct: DirectWriter | None = extensions.get(EXTENSION)
        self.client: Client | None = None
        self.reader: asyncio.Task | None = None  # the endpoint's task while it reads
        self.strikes = 0
        self.in_flight = 0
        self.tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ replies
    def reply(self, binary: bool, doc: dict[str, Any]) -> None:
        payload: Payload = msgpack.packb(doc) if binary else orjson.dumps(doc).decode()
        assert self.client is not None
        self.client.reply(payload)

    def ack(self, binary: bool, id: Any, result: Any = None, error: CommandError | None = None):
        doc: dict[str, Any] = {"type": "ack", "id": id, "ok": error is None}
        if error is None:
            if result is not None:
                doc["result"] = result
        else:
            doc["code"], doc["error"] = error.code, error.message
            if error.retry_after is not None:
                doc["retry_after"] = error.retry_after
        self.reply(binary, doc)

    # ------------------------------------------------------------------ socket plumbing
    async def send(self, payload: Payload) -> None:
        if isinstance(payload, str):
            await self.websocket.send({"type": "websocket.send", "text": payload})
        else:
            await self.websocket.send({"type": "websocket.send", "bytes": payload})

    async def close(self, code: int, reason: str) -> None:
        """Send the close (the client's writer calls this after a kick), then stop reading."""
        try:
            await asyncio.wait_for(self.websocket.close(code, reason), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            # the close never left: the peer stopped reading and its buffer is full
            if self.direct is not None:
                self.direct.abort()
        except Exception:
            pass
        reader = self.reader
        if reader is not None and not reader.done():
            reader.cancel()  # a peer that never answers the close would keep it reading

    async def receive(self) -> str | bytes | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else (message.get("bytes") or b"")

    # ------------------------------------------------------------------ authentication
    def credentials(self) -> tuple[str | None, str | None]:
        headers, query = self.websocket.headers, self.websocket.query_params
        authorization = headers.get("authorization")
        if not authorization and query.get("token"):
            authorization = f"Bearer {query['token']}"
        return authorization, headers.get("x-api-key") or query.get("api_key")

    async def first_message_auth(self) -> Principal:
        """Wait for an ``auth`` message; raises :class:`AuthError`."""
        try:
            data = await asyncio.wait_for(self.receive(), AUTH_TIMEOUT_S)
        except TimeoutError:
            raise AuthError(f"no credentials within {AUTH_TIMEOUT_S:.0f} s") from None
        if data is None:
            raise AuthError("disconnected before authenticating")
        try:
            message = parse(data)
        except MalformedMessage as exc:
            raise AuthError(f"first message must be auth: {exc.message}") from None
        if not isinstance(message, AuthMessage):
            raise AuthError(f"first message must be auth, not {message.type}")
        authorization = f"Bearer {message.token}" if message.token else None
        principal = await self.gate.authenticate(self.address, authorization, message.api_key)
        self.pending_auth_ack = (isinstance(data, bytes), message.id)
        return principal

    # ------------------------------------------------------------------ admission
    async def deny(self, status: int, detail: str, kind: str, retry_after: int = 0) -> None:
        """Refuse the handshake: an HTTP ``status`` where the server can send one, else a
        close before accepting (which servers answer with 403)."""
        extensions = self.websocket.scope.get("extensions") or {}
        if "websocket.http.response" in extensions:
            headers = {"retry-after": str(retry_after)} if retry_after else None
            body = {"detail": detail, "type": kind}
            await self.websocket.send_denial_response(JSONResponse(body, status, headers))
        else:
            await self.websocket.close(CLOSE_ABUSIVE, detail)

    async def serve(self) -> None:
        reason = origin_refusal(self.websocket.headers, self.settings)
        if reason is not None:
            await self.deny(403, reason, "forbidden_origin")
            return
        try:
            ticket = await self.gate.open_websocket(self.address)
        except RateLimited as exc:
            await self.deny(429, exc.message, "rate_limited", exc.retry_after)
            return
        try:
            await self.connected()
        finally:
            await self.gate.close_websocket(ticket)

    def message_allowed(self) -> bool:
        """Spend one of the connection's message allowance (a token bucket)."""
        now = time.monotonic()
        rate, burst = self.settings.ws_messages_per_second, self.settings.ws_message_burst
        self.allowance = min(float(burst), self.allowance + (now - self.allowance_at) * rate)
        self.allowance_at = now
        if self.allowance < 1.0:
            return False
        self.allowance -= 1.0
        return True

    # ------------------------------------------------------------------ the connection
    async def connected(self) -> None:
        self.pending_auth_ack: tuple[bool, Any] | None = None
        authorization, api_key = self.credentials()
        await self.websocket.accept()
        try:
            if authorization or api_key:
                principal = await self.gate.authenticate(self.address, authorization, api_key)
            else:
                try:
                    principal = await self.gate.authenticate(self.address, None, None)
                except AuthError:
                    principal = await self.first_message_auth()
        except RateLimited as exc:
            await self.close(CLOSE_RATE_LIMITED, exc.message)
            return
        except AuthError as exc:
            await self.close(CLOSE_UNAUTHORIZED, f"unauthorized: {exc.message}")
            return
        self.client = client = self.hub.connect(self.send, self.close, principal, self.direct)
        if self.pending_auth_ack is not None:
            binary, id = self.pending_auth_ack
            self.ack(binary, id, {"name": principal.name, "role": principal.role.name.lower()})
        self.reader = reader = asyncio.current_task()
        try:
            await self.read()
        except asyncio.CancelledError:
            if not client.closing:
                raise  # the server is stopping
            assert reader is not None
            reader.uncancel()  # our own close ended the read: a normal end
        finally:
            self.reader = None
            self.hub.disconnect(client)  # releases subscriptions, queue and feeds
            for task in self.tasks:
                task.cancel()

    async def read(self) -> None:
        while True:
            data = await self.receive()
            if data is None:
                return
            await self.handle(data)

    def strike(self, binary: bool, id: Any, code: str, error: str, what: str) -> None:
        """Answer a message that was not served; close after :data:`MAX_STRIKES` in a row."""
        self.strikes += 1
        self.reply(binary, {"type": "error", "id": id, "code": code, "error": error})
        if self.strikes >= MAX_STRIKES:
            assert self.client is not None
            self.client.kick(CLOSE_ABUSIVE, f"{self.strikes} {what} messages in a row")

    async def handle(self, data: str | bytes) -> None:
        binary = isinstance(data, bytes)
        if not self.message_allowed():
            rate = self.settings.ws_messages_per_second
            error = f"over {rate:g} messages per second; message dropped"
            self.strike(binary, None, "rate_limited", error, "over-rate")
            return
        try:
            message = parse(data, self.settings.ws_max_message_bytes)
        except MalformedMessage as exc:
            self.strike(binary, exc.id, exc.code, exc.message, "malformed")
            return
        self.strikes = 0
        if isinstance(message, PingMessage):
            self.reply(binary, {"type": "pong", "id": message.id, "t": time.time()})
        elif isinstance(message, SubscribeMessage | UnsubscribeMessage):
            await self.topic_message(binary, message)
        elif isinstance(message, CommandMessage):
            self.command(binary, message)
        else:  # a second auth: credentials are fixed for the connection's life
            error = CommandError("bad_argument", "already authenticated")
            self.ack(binary, message.id, error=error)

    async def topic_message(
        self, binary: bool, message: SubscribeMessage | UnsubscribeMessage
    ) -> None:
        assert self.client is not None
        topic = Topic(message.topic, str(message.sim_id), message.agent_id)
        try:
            require(self.client.principal, Role.VIEWER)
            if isinstance(message, SubscribeMessage):
                await self.hub.admit(topic)  # asks a host process off the loop, if any
                self.hub.subscribe(self.client, topic, message.format)
            elif not self.hub.unsubscribe(self.client, topic):
                raise CommandError("bad_argument", f"not subscribed to {topic.key}")
        except AuthError as exc:
            self.ack(binary, message.id, error=CommandError("forbidden", exc.message))
        except UnknownIdError as exc:
            self.ack(binary, message.id, error=CommandError("unknown_id", str(exc)))
        except LimitError as exc:
            self.ack(binary, message.id, error=CommandError("limit_exceeded", str(exc)))
        except HostUnavailableError as exc:
            self.ack(binary, message.id, error=host_error(exc))
        except CommandError as exc:
            self.ack(binary, message.id, error=exc)
        else:
            self.ack(binary, message.id, {"topic": topic.key})

    def command(self, binary: bool, message: CommandMessage) -> None:
        assert self.client is not None
        try:
            require(self.client.principal, Role.OPERATOR)
        except AuthError as exc:
            self.ack(binary, message.id, error=CommandError("forbidden", exc.message))
            return
        if self.in_flight >= MAX_COMMANDS_IN_FLIGHT:
            error = CommandError(
                "busy",
                f"{self.in_flight} commands of this connection still running; wait for acks",
                retry_after=BUSY_RETRY_AFTER_S,
            )
            self.ack(binary, message.id, error=error)
            return
        app_state = self.websocket.app.state
        pool: CommandPool = app_state.commands
        try:
            pending = submit_command(
                pool, app_state.service, message.action, message.sim_id, message.args
            )
        except RuntimeError:  # the pool is shut down: the server is stopping
            error = CommandError("unavailable", "the server is stopping")
            self.ack(binary, message.id, error=error)
            return
        if pending is None:
            error = CommandError(
                "busy",
                f"the server is running {pool.max_in_flight} commands, its limit "
                f"ws_max_commands_in_flight; try again in {BUSY_RETRY_AFTER_S:g} s",
                retry_after=BUSY_RETRY_AFTER_S,
            )
            self.ack(binary, message.id, error=error)
            return
        self.in_flight += 1
        task = asyncio.create_task(self.run(binary, message, pending))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, binary: bool, message: CommandMessage, pending: Any) -> None:
        try:
            result = await command_result(pending)
        except CommandError as exc:
            self.ack(binary, message.id, error=exc)
        else:
            self.ack(binary, message.id, _jsonable(result))
        finally:
            self.in_flight -= 1


async def websocket_endpoint(websocket: WebSocket) -> None:
    """Serve one WebSocket connection (see the module docstring)."""
    app = websocket.app
    await _Session(websocket, app.state.hub, settings_of(app), gate_of(app)).serve()
