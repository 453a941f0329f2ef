"""Load profiles: BENCHMARKS.md B6's six, and custom ones from flags or a TOML/JSON file."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["PROFILES", "Profile", "custom_profile", "load_profile_file", "resolve_profiles"]


@dataclass(frozen=True)
class Profile:
    """One load scenario.

    Every user holds a WebSocket subscribed to the world topic (MessagePack frames,
    counted), pings it every ``ping_interval_s`` and makes REST calls separated by an
    exponential think time of mean ``think_s``. One user in ``1 / command_share`` (at
    least one) steps the simulation with ``step`` commands instead of idling, together
    aiming at ``tick_rate_hz`` ticks per second: the simulation advances only through
    users' commands, so their round trips include the tick at the profile's agent count.
    """

    name: str
    agents: int
    users: int
    duration_s: float = 30.0
    think_s: float = 2.0
    ping_interval_s: float = 1.0
    command_share: float = 0.1
    tick_rate_hz: float = 10.0
    #: seconds after the users are connected before measuring starts
    warmup_s: float = 2.0
    #: soak mode: the run is long and memory growth per hour after warm-up is reported
    soak: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("light", 10, 50),
        Profile("medium", 30, 200),
        Profile("heavy", 50, 500),
        Profile("stress", 100, 1_000),
        Profile("large", 10_000, 5_000),
        Profile("colossal", 100_000, 10_000),
    )
}


def custom_profile(agents: int, users: int, name: str = "custom", **extra: Any) -> Profile:
    """A profile from flags."""
    if agents < 1 or users < 1:
        raise ValueError(f"a profile needs at least one agent and one user, got {agents}/{users}")
    return Profile(name, agents, users, **extra)


def load_profile_file(path: str | Path) -> list[Profile]:
    """Profiles from a TOML or JSON file: ``[[profile]]`` tables (TOML) or a list (JSON).

    Each entry has ``name``, ``agents``, ``users`` and optionally the other fields of
    :class:`Profile`; unknown keys are refused so that typos do not pass silently.
    """
    path = Path(path)
    text = path.read_text()
    doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    entries = doc.get("profile", []) if isinstance(doc, dict) else doc
    if isinstance(entries, dict):
        entries = [entries]
    known = {f.name for f in fields(Profile)}
    out = []
    for entry in entries:
        unknown = set(entry) - known
        if unknown:
            raise ValueError(f"{path}: unknown profile keys {sorted(unknown)}")
        out.append(custom_profile(**{"name": "custom", **entry}))
    if not out:
        raise ValueError(f"{path}: no profiles (expected [[profile]] tables)")
    return out


def resolve_profiles(
    names: list[str],
    *,
    agents: int | None = None,
    users: int | None = None,
    duration_s: float | None = None,
    profile_file: str | Path | None = None,
    soak: bool = False,
) -> list[Profile]:
    """The profiles a command line asks for, with ``--duration`` and ``--soak`` applied."""
    chosen: list[Profile] = []
    for name in names:
        if name == "custom":
            if agents is None or users is None:
                raise ValueError("--profile custom needs --agents and --users")
            chosen.append(custom_profile(agents, users))
        elif name in PROFILES:
            base = PROFILES[name]
            if agents is not None or users is not None:
                base = replace(base, agents=agents or base.agents, users=users or base.users)
            chosen.append(base)
        else:
            raise ValueError(f"unknown profile {name!r}; choose from {[*PROFILES, 'custom']}")
    if profile_file is not None:
        chosen.extend(load_profile_file(profile_file))
    changes: dict[str, Any] = {}
    if duration_s is not None:
        changes["duration_s"] = duration_s
    if soak:
        changes["soak"] = True
    return [replace(p, **changes) for p in chosen]
