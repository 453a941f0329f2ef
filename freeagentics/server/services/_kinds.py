"""Agent kinds defined by a model spec or GMN text, as a simulation is created."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from freeagentics.agents.kinds import AgentKind, define_kind
from freeagentics.errors import ConfigurationError, ModelError, SpecError
from freeagentics.models import GenerativeModel, compile_gmn, compile_spec, parse_gmn

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


#: Most entries a model's arrays may hold when compiled for the server.
MAX_MODEL_ENTRIES = 20_000_000


def _size(value: Any, count: Any) -> int:
    if isinstance(value, list | tuple):
        return len(value)
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    return 1


def _check_size(sizes: list[int], outcomes: list[int], controls: list[int], horizon: int) -> None:
    """Refuse a model whose arrays would be too large, before allocating them."""
    states = math.prod(max(1, s) for s in sizes)
    entries = states * (sum(max(1, o) for o in outcomes) + sum(max(1, s) for s in sizes))
    entries *= max([1, *controls])
    policies = math.prod(max(1, c) for c in controls) ** max(1, horizon)
    if entries > MAX_MODEL_ENTRIES or policies > MAX_MODEL_ENTRIES:
        raise ConfigurationError(
            f"model: too large for the server ({states} joint states, {policies} policies; "
            f"at most {MAX_MODEL_ENTRIES} array entries)"
        )


def _spec_sizes(spec: Mapping[str, Any]) -> None:
    factors = spec.get("factors") if isinstance(spec.get("factors"), list) else []
    modalities = spec.get("modalities") if isinstance(spec.get("modalities"), list) else []
    sizes = [_size(f.get("states"), None) for f in factors if isinstance(f, Mapping)]
    controls = [_size(f.get("controls"), None) for f in factors if isinstance(f, Mapping)]
    outcomes = [_size(m.get("outcomes"), None) for m in modalities if isinstance(m, Mapping)]
    horizon = spec.get("policy_len", 1)
    _check_size(sizes, outcomes, controls, horizon if isinstance(horizon, int) else 1)


def _gmn_sizes(source: str | Mapping[str, Any], policy_len: int) -> None:
    graph = parse_gmn(source)

    def sizes(kind: str, names: str, count: str) -> list[int]:
        return [_size(n.props.get(names), n.props.get(count)) for n in graph.of_type(kind)]

    _check_size(
        sizes("state", "states", "num_states"),
        sizes("observation", "outcomes", "num_observations"),
        sizes("action", "actions", "num_actions"),
        policy_len,
    )


def compile_model(
    spec: Mapping[str, Any] | None,
    gmn: str | Mapping[str, Any] | None,
    policy_len: int = 1,
    *,
    where: str = "",
    on_warning: Callable[[str], None] | None = None,
) -> GenerativeModel:
    """Compile exactly one of ``spec`` / ``gmn``; errors name their place after ``where``.

    What a GMN model was accepted with goes to ``on_warning`` (ignored when ``None``).
    """
    if (spec is None) == (gmn is None):
        raise ConfigurationError(f"{where or 'model'}: give exactly one of 'spec' or 'gmn'")
    prefix = f"{where}." if where else ""
    try:
        if spec is not None:
            _spec_sizes(spec)
            return compile_spec(spec)
        _gmn_sizes(gmn, policy_len)
        return compile_gmn(gmn, policy_len=policy_len, on_warning=on_warning or _ignore)
    except SpecError as exc:
        place = f"{prefix}{'spec' if spec is not None else 'gmn'}"
        path = f"{place}.{exc.path}" if exc.path else place
        raise SpecError(f"{place}: {exc}", path=path) from None
    except ModelError as exc:
        place = f"{prefix}{'spec' if spec is not None else 'gmn'}"
        raise ModelError(f"{place}: {exc}", array=exc.array, index=exc.index) from None


def _ignore(_: str) -> None:
    """Warnings of kinds compiled as a simulation is created are not reported back."""


def build_kind(definition: KindDefinition, index: int) -> AgentKind:
    """The :class:`AgentKind` of ``definition`` (the ``index``-th in the request)."""
    where = f"kinds[{index}]"
    model = compile_model(definition.spec, definition.gmn, definition.policy_len, where=where)
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
