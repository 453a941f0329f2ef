"""The server's resource limits, as the services enforce them for REST and WebSocket alike.

:class:`ResourceLimits` is built from the settings (fields of the same names); each
check raises :class:`~freeagentics.errors.LimitError` naming the setting, which the REST
layer answers with 422 and the WebSocket layer with an ``ok: false`` ack.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from freeagentics.errors import LimitError
from freeagentics.models import ModelLimits

__all__ = ["ResourceLimits", "check_limit"]


def check_limit(name: str, value: int, limit: int, what: str) -> None:
    """Raise :class:`LimitError` naming ``name`` when ``value`` is over ``limit``."""
    if value > limit:
        raise LimitError(f"{what}: {value} is over the limit {name}={limit}", limit=name)


@dataclass(frozen=True)
class ResourceLimits:
    """Every bound the services enforce; see the settings' field descriptions."""

    max_simulations: int = 32
    max_agents_per_request: int = 10_000
    max_agents_per_simulation: int = 200_000
    max_step_ticks: int = 1_000
    max_subscriptions_per_connection: int = 64
    max_feeds: int = 256
    model_max_factors: int = 16
    model_max_states: int = 4_096
    model_max_policy_len: int = 8
    model_max_policies: int = 65_536
    model_max_array_bytes: int = 160_000_000

    @classmethod
    def from_settings(cls, settings: Any) -> ResourceLimits:
        """The limits named alike on ``settings`` (the server's ``Settings``)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    @property
    def model(self) -> ModelLimits:
        """The model-size part, for :mod:`freeagentics.models`."""
        return ModelLimits(
            max_factors=self.model_max_factors,
            max_states=self.model_max_states,
            max_policy_len=self.model_max_policy_len,
            max_policies=self.model_max_policies,
            max_array_bytes=self.model_max_array_bytes,
        )
