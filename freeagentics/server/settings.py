"""Server settings: one pydantic-settings class read from ``FREEAGENTICS_*`` variables.

Outside development the settings refuse the default secret (and any secret too short
to sign tokens safely), so a production server can never run with a key that ships
in the source.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_SECRET", "MAX_WORKERS", "MIN_SECRET_LENGTH", "ROLE_NAMES", "Settings"]

#: The secret that ships in the source; accepted only in development mode.
DEFAULT_SECRET = "freeagentics-development-secret-do-not-use"
#: Shortest secret accepted outside development (HS256 wants at least 256 bits).
MIN_SECRET_LENGTH = 32
#: Role names accepted in ``api_keys`` and in token claims.
ROLE_NAMES = ("viewer", "operator", "admin")
#: Most API worker processes one server runs (each holds a connection to the host).
MAX_WORKERS = 64


class Settings(BaseSettings):
    """Every knob of the HTTP/WebSocket server, read from the environment.

    ``FREEAGENTICS_MODE=production`` turns on every check; ``development`` (the
    default) lets anonymous callers act as admin and says so loudly.
    """

    model_config = SettingsConfigDict(env_prefix="FREEAGENTICS_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    secret_key: str = DEFAULT_SECRET
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    token_ttl_seconds: int = Field(3600, ge=1, le=7 * 24 * 3600)
    api_keys: dict[str, str] = Field(default_factory=dict)
    #: where the server listens (``freeagentics serve --host/--port`` override them)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65_535)
    #: the database; unset: SQLite, ``freeagentics.db`` in ``data_dir``
    database_url: str | None = None
    #: folder of the default SQLite database; unset: ``$XDG_DATA_HOME/freeagentics``, i.e.
    #: ``~/.local/share/freeagentics`` (``make run`` sets the checkout's ``data/``)
    data_dir: Path | None = None
    auto_migrate: bool = True
    demo: bool = True
    demo_agents: int = Field(100, ge=1, le=100_000)
    cors_origins: list[str] = Field(default_factory=list)
    max_request_bytes: int = Field(1_048_576, ge=1_024)
    rate_limit_per_minute: int = Field(600, ge=1)
    #: Redis shared by the server's processes: simulations' frames travel through it and the
    #: admission budgets (rate limits, failed logins, WebSocket handshakes and connections
    #: per address) live in it, so N worker processes allow one budget, not N; unset: one
    #: process, every budget in its memory
    redis_url: str | None = None
    workers: int = Field(
        1,
        ge=1,
        le=MAX_WORKERS,
        description="API worker processes `freeagentics serve` runs on one port (--workers), "
        "all reaching one simulation host. More than one needs PostgreSQL (database_url) and "
        "Redis (redis_url): frames reach the workers through Redis.",
    )
    ws_redis_prefix: str = Field(
        "freeagentics:ws",
        min_length=1,
        max_length=100,
        description="Prefix of the Redis channels and keys the API workers share: frames, "
        "topic interest and each worker's metrics; deployments sharing one Redis keep apart "
        "by using different prefixes.",
    )
    metrics_publish_seconds: float = Field(
        5.0,
        ge=0.05,
        le=300.0,
        description="With several API workers, each publishes its metrics to Redis this "
        "often (and at every scrape it answers), so that every worker's /metrics shows the "
        "whole server; a worker that stops publishing leaves the scrapes after three periods.",
    )
    ws_queue_size: int = Field(64, ge=1)
    ws_max_lag_frames: int = Field(256, ge=1)
    ws_egress_bytes_per_s: int = Field(
        128 * 1024 * 1024,
        ge=64 * 1024,
        le=100 * 1024**3,
        description="Bytes of frames one API process writes to its WebSocket clients per "
        "second, all clients together. Beyond it subscribers get their topics' newest frames "
        "in turn (the longest-waiting first, topics sharing the bytes), at a lower rate "
        "rather than a backlog, and the event loop stays free for pings, commands and REST.",
    )
    frame_rate_hz: float = Field(10.0, gt=0, le=1_000)
    tick_rate_hz: float = Field(10.0, gt=0, le=10_000)
    history_limit: int = Field(256, ge=1)
    log_format: Literal["text", "json"] = Field(
        "text", description="'json': one JSON object per log line, for log pipelines."
    )
    #: checkpoint every simulation every this many ticks (0: only on request); a crash
    #: loses at most this many ticks
    checkpoint_every_ticks: int = Field(1000, ge=0)
    #: checkpoints kept per simulation; saving one more prunes the oldest
    checkpoint_max_count: int = Field(8, ge=1, le=10_000)
    #: bytes of checkpoints kept per simulation (oldest pruned; a larger one is refused)
    checkpoint_max_bytes: int = Field(512 * 1024 * 1024, ge=1024)
    #: at start, restore the simulations the database says were created, running or paused
    restore_on_start: bool = True
    simulation_host: Literal["process", "inline", "ray"] = Field(
        "process",
        description="Where simulations run: 'process', a host process the server starts and "
        "stops (the event loop and the requests never share an interpreter with a tick); "
        "'inline', threads of the API process itself; 'ray', one Ray actor per simulation "
        "on the cluster at ray_address (set by ray_address). (FREEAGENTICS_SIMULATION_HOST: "
        "FREEAGENTICS_HOST is the address the server listens on.)",
    )
    #: restarts of a host process that died, each restoring its simulations from their
    #: latest checkpoints; after that the API answers 503 until the server is restarted
    host_max_restarts: int = Field(1, ge=0, le=100)
    host_call_timeout_seconds: float = Field(
        30.0,
        ge=0.1,
        le=3_600,
        description="The longest a request (REST or WebSocket command) waits for the "
        "simulation host to answer one call, a step of many ticks included, before it "
        "is answered 504 host_timeout (the call may still complete on the host). It "
        "bounds how long a host that hangs can hold a thread of the API.",
    )

    # --- simulations on a Ray cluster (``serve --ray ADDRESS``) ---
    ray_address: str | None = Field(
        None,
        min_length=1,
        description="A Ray cluster's address ('auto', 'HOST:PORT' or 'ray://HOST:PORT'): each "
        "simulation runs in a detached actor there, restarted from its latest checkpoint "
        "when its process or node dies. Needs PostgreSQL (database_url) and Redis (redis_url).",
    )
    ray_namespace: str = Field(
        "freeagentics",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        description="The Ray namespace of this deployment's simulation actors (named "
        "freeagentics-sim-ID in it); deployments sharing a cluster keep apart by it. It "
        "also prefixes the deployment's Redis keys.",
    )
    ray_max_restarts: int = Field(
        16,
        ge=-1,
        le=10_000,
        description="Restarts of one simulation's actor after its process or node died "
        "(-1: no limit); each resumes from the latest checkpoint.",
    )
    ray_actor_cpus: float = Field(
        1.0, ge=0, le=1_024, description="CPUs Ray reserves for each simulation's actor."
    )
    ray_call_timeout_seconds: float | None = Field(
        None,
        ge=0.1,
        le=86_400,
        description="The longest an API call waits for a simulation's actor (a long step "
        "included) before answering 504 host_timeout; unset: host_call_timeout_seconds. "
        "An actor that is restarting answers 503 at once.",
    )

    # --- abuse limits: tokens, failed logins, origins, WebSocket admission ---
    #: the longest life any token may have; longer ones are refused, even if validly signed
    token_max_ttl_seconds: int = Field(86_400, ge=60, le=30 * 24 * 3600)
    #: failed authentications one client address may make per minute before a lockout (429)
    auth_failures_per_minute: int = Field(10, ge=1)
    #: origins besides the server's own (and cors_origins) that may change state or open
    #: WebSockets; browsers send ``Origin``, so cross-site requests from others are refused
    allowed_origins: list[str] = Field(default_factory=list)
    #: the largest client WebSocket message; the server's frame limit is the same
    ws_compression: bool = Field(
        False,
        description="Offer permessage-deflate to WebSocket clients. Off: each frame is "
        "framed once and written as the same bytes to every socket; on, every compressed "
        "connection compresses every frame on the event loop.",
    )
    ws_max_message_bytes: int = Field(64 * 1024, ge=1_024, le=16 * 1024 * 1024)
    #: WebSocket handshakes one client address may make per minute
    ws_connects_per_minute: int = Field(120, ge=1)
    #: WebSocket connections one client address may hold open at once
    ws_connections_per_address: int = Field(64, ge=1)
    #: client messages per second per connection (sustained), and the burst allowed above it
    ws_messages_per_second: float = Field(50.0, gt=0)
    ws_message_burst: int = Field(100, ge=1)
    ws_command_threads: int = Field(
        16,
        ge=1,
        le=256,
        description="Threads of the API process that run WebSocket commands (their "
        "own: commands never queue behind other work, nor it behind them).",
    )
    ws_max_commands_in_flight: int = Field(
        32,
        ge=1,
        le=10_000,
        description="WebSocket commands one API process holds at once, running or waiting "
        "for one of ws_command_threads; one more is answered at once with a busy ack "
        "(retry_after in it), not queued.",
    )
    # With redis_url set, the budgets above (but the per-connection message rate) are kept
    # in Redis: every process using the same Redis and prefix spends the same budgets.
    shared_limits_prefix: str = Field(
        "freeagentics:limits",
        min_length=1,
        max_length=100,
        description="Prefix of the budgets' Redis keys; deployments sharing one Redis "
        "keep apart by using different prefixes.",
    )
    shared_limits_lease_seconds: float = Field(
        15.0,
        ge=1.0,
        le=600.0,
        description="An open WebSocket connection counts for this long unless its process "
        "renews it (every third of it): a process that dies stops counting by then.",
    )
    shared_limits_timeout_seconds: float = Field(
        0.5,
        gt=0,
        le=10.0,
        description="The longest one admission check waits for Redis before deciding on "
        "the process's own budgets.",
    )
    shared_limits_retry_seconds: float = Field(
        2.0,
        gt=0,
        le=300.0,
        description="After Redis failed, budgets stay the process's own this long before "
        "Redis is tried again (a warning is logged, freeagentics_shared_limits_up is 0 and "
        "freeagentics_shared_limits_fallback_total counts the decisions meanwhile).",
    )

    # Resource limits: one set, enforced by the service for REST and WebSocket alike.
    # Exceeding one is a 4xx (an ``ok: false`` ack on the socket) naming the field.
    max_simulations: int = Field(
        32, ge=1, description="Simulations held at once; creating one more is refused (409)."
    )
    max_agents_per_request: int = Field(
        10_000, ge=1, description="Agents one request (create kind, add_agents) may add."
    )
    max_agents_per_simulation: int = Field(
        200_000, ge=1, description="Agents one simulation may hold, counting every addition."
    )
    max_step_ticks: int = Field(
        1_000, ge=1, description="Ticks one step request or command may run."
    )
    max_subscriptions_per_connection: int = Field(
        64, ge=1, description="Topics one WebSocket connection may subscribe to at once."
    )
    max_feeds: int = Field(
        256, ge=1, description="Simulations the WebSocket hub follows at once (one thread each)."
    )
    model_max_factors: int = Field(
        16, ge=1, le=60, description="Hidden-state factors (and modalities) of a custom model."
    )
    model_max_states: int = Field(
        4_096, ge=1, description="States, outcomes or controls in one axis of a custom model."
    )
    model_max_policy_len: int = Field(8, ge=1, description="Planning horizon of a custom model.")
    model_max_policies: int = Field(
        65_536, ge=1, description="Policies of a custom model (each agent holds two P-vectors)."
    )
    model_max_array_bytes: int = Field(
        160_000_000, ge=1, description="Bytes of a custom model's A, B and policy table together."
    )

    def resolved_database_url(self) -> str:
        """``database_url``, else the SQLite file in ``data_dir`` (the folder is created)."""
        from freeagentics.storage import default_url

        return self.database_url or default_url(self.data_dir)

    @property
    def frames_through_redis(self) -> bool:
        """Whether a host publishes its frames to Redis for several API workers (rather
        than pushing them to one API process over its socket)."""
        return self.workers > 1 and bool(self.redis_url)

    @property
    def development(self) -> bool:
        """True in development mode, where anonymous callers are admins."""
        return self.mode == "development"

    @field_validator("api_keys")
    @classmethod
    def _known_roles(cls, keys: dict[str, str]) -> dict[str, str]:
        for key, role in keys.items():
            if role not in ROLE_NAMES:
                raise ValueError(
                    f"api_keys: key ending {key[-4:]!r} has role {role!r}; "
                    f"choose from {list(ROLE_NAMES)}"
                )
            if len(key) < 16:
                raise ValueError(f"api_keys: key ending {key[-4:]!r} is shorter than 16 characters")
        return keys

    @model_validator(mode="after")
    def _default_token_life_within_maximum(self) -> Settings:
        if self.token_ttl_seconds > self.token_max_ttl_seconds:
            raise ValueError(
                f"token_ttl_seconds ({self.token_ttl_seconds}) is over "
                f"token_max_ttl_seconds ({self.token_max_ttl_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _ray_needs_a_cluster_postgresql_and_redis(self) -> Settings:
        if self.ray_address is not None and "simulation_host" not in self.model_fields_set:
            self.simulation_host = "ray"  # the address alone chooses Ray
        if self.simulation_host != "ray":
            if self.ray_address is not None:
                raise ValueError(
                    f"ray_address is set but simulation_host is {self.simulation_host!r}; "
                    "unset one of them"
                )
            return self
        if self.ray_address is None:
            raise ValueError("simulation_host 'ray' needs ray_address (serve --ray ADDRESS)")
        if importlib.util.find_spec("ray") is None:
            raise ValueError(
                "simulations on Ray need the 'ray' extra: pip install 'freeagentics[ray]'"
            )
        url = self.database_url or ""
        if not url.startswith("postgresql"):
            raise ValueError(
                "simulations on Ray need PostgreSQL: actors on other machines open the same "
                "database; set FREEAGENTICS_DATABASE_URL=postgresql://... (not "
                f"{url.split(':', 1)[0] or 'the default SQLite file'})"
            )
        if not self.redis_url:
            raise ValueError(
                "simulations on Ray need Redis: their actors publish frames to the API "
                "processes through it; set FREEAGENTICS_REDIS_URL=redis://..."
            )
        return self

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.development:
            return self
        if self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                "secret_key: the default secret is refused outside development; "
                "set FREEAGENTICS_SECRET_KEY"
            )
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret_key: must be at least {MIN_SECRET_LENGTH} characters outside development"
            )
        return self
