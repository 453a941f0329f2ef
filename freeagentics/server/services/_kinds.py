"""Agent kinds defined by a model spec or GMN text, as a simulation is created."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from freeagentics.errors import ConfigurationError, LimitError, ModelError, SpecError
from freeagentics.models import DEFAULT_MODEL_LIMITS, ModelLimits

if TYPE_CHECKING:
    from freeagentics.agents.kinds import AgentKind
    from freeagentics.models import GenerativeModel

__all__ = ["KindDefinition", "build_kind", "compile_model"]


@dataclass(frozen=True)
class KindDefinition:
    """A custom agent kind: a name, a model (``spec`` mapping or ``gmn``) and its rules.

    ``gmn`` is the text form or the JSON form's object.
    """

    name: str
    count: int = 0
    spec: Mapping[str, Any] | None = None
    gmn: str | Mapping[str, Any] | None = None
    policy_len: int = 1
    observer: str = "compass"
    target: str = "waypoint"
    capabilities: tuple[float, ...] = (1.0, 0.0, 0.0)

    @classmethod
    def of(cls, value: KindDefinition | Mapping[str, Any], where: str = "kinds") -> KindDefinition:
        """``value`` itself, or the definition a map of its fields describes (as a
        definition crosses to a host)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ConfigurationError(
                f"{where}: expected a kind definition, got {type(value).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigurationError(f"{where}: unknown fields {unknown}; known: {sorted(known)}")
        values = dict(value)
        if "capabilities" in values:
            values["capabilities"] = tuple(values["capabilities"])
        return cls(**values)


def compile_model(
    spec: Mapping[str, Any] | None,
    gmn: str | Mapping[str, Any] | None,
    policy_len: int = 1,
    *,
    where: str = "",
    on_warning: Callable[[str], None] | None = None,
    limits: ModelLimits = DEFAULT_MODEL_LIMITS,
) -> GenerativeModel:
    """Compile exactly one of ``spec`` / ``gmn``; errors name their place after ``where``.

    What a GMN model was accepted with goes to ``on_warning`` (ignored when ``None``).
    A model over ``limits`` (the server's ``model_max_*`` settings) raises
    :class:`LimitError` naming the setting, before any of its arrays is allocated.
    """
    if (spec is None) == (gmn is None):
        raise ConfigurationError(f"{where or 'model'}: give exactly one of 'spec' or 'gmn'")
    # imported here: a model's arrays need numpy, which an API process loads only once
    # it compiles one (to validate it)
    from freeagentics.models import compile_gmn, compile_spec

    prefix = f"{where}." if where else ""
    try:
        if spec is not None:
            return compile_spec(spec, limits=limits)
        warn = on_warning or _ignore
        return compile_gmn(gmn, policy_len=policy_len, on_warning=warn, limits=limits)
    except LimitError as exc:
        place = f"{prefix}{'spec' if spec is not None else 'gmn'}"
        setting = f"model_{exc.limit}"
        message = f"{place}: {exc}; the server's setting is {setting}"
        raise LimitError(message, limit=setting) from None
    except SpecError as exc:
        place = f"{prefix}{'spec' if spec is not None else 'gmn'}"
        path = f"{place}.{exc.path}" if exc.path else place
        raise SpecError(f"{place}: {exc}", path=path) from None
    except ModelError as exc:
        place = f"{prefix}{'spec' if spec is not None else 'gmn'}"
        raise ModelError(f"{place}: {exc}", array=exc.array, index=exc.index) from None


def _ignore(_: str) -> None:
    """Warnings of kinds compiled as a simulation is created are not reported back."""


def build_kind(
    definition: KindDefinition, index: int, limits: ModelLimits = DEFAULT_MODEL_LIMITS
) -> AgentKind:
    """The :class:`AgentKind` of ``definition`` (the ``index``-th in the request)."""
    from freeagentics.agents.kinds import define_kind  # the kernels: where simulations run

    where = f"kinds[{index}]"
    model = compile_model(
        definition.spec, definition.gmn, definition.policy_len, where=where, limits=limits
    )
    try:
        return define_kind(
            definition.name,
            model,
            observer=definition.observer,
            target=definition.target,
            capabilities=definition.capabilities,
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None
