"""Size limits of a generative model, checked in closed form before any array exists.

A model's arrays grow as products of its sizes: ``A[m]`` holds ``O_m * prod(S[deps])``
entries, ``B[f]`` holds ``S_f * prod(S[deps]) * U_f`` and the policy table holds
``prod(U_f)**T * T * F``. A few short lists in a spec can therefore ask for more memory
than any machine has, or (through ``controls ** policy_len`` on Python integers) for
more arithmetic than a server can do while it answers. :func:`check_model_size` works on
the sizes alone, in log space, and refuses with a :class:`~freeagentics.errors.LimitError`
naming the limit before anything is allocated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from freeagentics.errors import LimitError

__all__ = ["DEFAULT_MODEL_LIMITS", "ModelLimits", "check_model_size", "check_policy_count"]

#: bytes of one array entry (float64 arrays, int64 policies)
_ENTRY_BYTES = 8


@dataclass(frozen=True)
class ModelLimits:
    """Largest model accepted.

    Attributes:
        max_factors: hidden-state factors (and modalities); numpy arrays have at most
            64 axes, and ``A[m]`` has one axis per factor it depends on, plus one.
        max_states: states of one factor, outcomes of one modality, controls of one factor.
        max_policy_len: planning horizon ``T``.
        max_policies: policies ``P`` (each agent holds ``q_pi`` and ``G`` of ``P`` entries).
        max_array_bytes: bytes of ``A``, ``B`` and the policy table together.
    """

    max_factors: int = 32
    max_states: int = 100_000
    max_policy_len: int = 16
    max_policies: int = 1_000_000
    max_array_bytes: int = 1 << 30


DEFAULT_MODEL_LIMITS = ModelLimits()


def _log_prod(values: Sequence[int]) -> float:
    return sum(math.log(max(1, v)) for v in values)


def _refuse(limit: str, message: str) -> LimitError:
    return LimitError(f"model: {message} (limit {limit})", limit=limit)


def check_policy_count(
    num_controls: Sequence[int],
    policy_len: int,
    control_factors: Sequence[int] | None = None,
    limits: ModelLimits = DEFAULT_MODEL_LIMITS,
) -> int:
    """The number of policies enumerating ``num_controls`` over ``policy_len`` steps gives.

    Raises :class:`LimitError` when ``policy_len`` or the count is over ``limits``
    (checked in log space: ``2 ** (2 ** 32)`` is never computed).
    """
    if policy_len > limits.max_policy_len:
        raise _refuse("max_policy_len", f"policy_len {policy_len} is over {limits.max_policy_len}")
    if control_factors is None:
        control_factors = [f for f, u in enumerate(num_controls) if u > 1]
    controls = [int(num_controls[f]) for f in control_factors]
    if any(u > limits.max_states for u in controls):
        raise _refuse("max_states", f"a factor has more than {limits.max_states} controls")
    log_count = policy_len * _log_prod(controls)
    if log_count > math.log(limits.max_policies) + 1e-9:
        raise _refuse(
            "max_policies",
            f"{' x '.join(map(str, controls))} controls over {policy_len} steps make "
            f"about 10^{log_count / math.log(10):.1f} policies, over {limits.max_policies}",
        )
    return math.prod(controls) ** policy_len


def check_model_size(
    num_states: Sequence[int],
    num_obs: Sequence[int],
    num_controls: Sequence[int],
    *,
    A_deps: Sequence[Sequence[int]] | None = None,
    B_deps: Sequence[Sequence[int]] | None = None,
    policy_len: int = 1,
    control_factors: Sequence[int] | None = None,
    limits: ModelLimits = DEFAULT_MODEL_LIMITS,
) -> int:
    """Refuse a model over ``limits`` from its sizes alone; returns its array bytes.

    ``A_deps`` default to every factor, ``B_deps`` to each factor itself (as in
    :meth:`~freeagentics.models.GenerativeModel.create`).
    """
    factors, modalities = len(num_states), len(num_obs)
    for what, count in (("factors", factors), ("modalities", modalities)):
        if count > limits.max_factors:
            raise _refuse("max_factors", f"{count} {what}, over {limits.max_factors}")
    for what, sizes in (("states", num_states), ("outcomes", num_obs), ("controls", num_controls)):
        largest = max(sizes, default=0)
        if largest > limits.max_states:
            raise _refuse("max_states", f"{largest} {what} in one axis, over {limits.max_states}")
    every = list(range(factors))
    A_deps = A_deps if A_deps is not None else [every] * modalities
    B_deps = B_deps if B_deps is not None else [[f] for f in range(factors)]
    policies = check_policy_count(num_controls, policy_len, control_factors, limits)
    arrays = {  # array name -> its axes' sizes
        **{
            f"A[{m}]": [o, *(num_states[f] for f in deps)]
            for m, (o, deps) in enumerate(zip(num_obs, A_deps, strict=True))
        },
        **{
            f"B[{f}]": [s, *(num_states[g] for g in deps), max(1, u)]
            for f, (s, deps, u) in enumerate(zip(num_states, B_deps, num_controls, strict=True))
        },
        "policies": [policies, policy_len, max(1, factors)],
    }
    budget = math.log(limits.max_array_bytes / _ENTRY_BYTES)
    for name, axes in arrays.items():  # one array alone over the limit: no product computed
        if _log_prod(axes) > budget:
            raise _refuse(
                "max_array_bytes",
                f"{name} of shape {tuple(axes)} is over {limits.max_array_bytes} bytes",
            )
    total = _ENTRY_BYTES * sum(math.prod(axes) for axes in arrays.values())
    if total > limits.max_array_bytes:
        raise _refuse(
            "max_array_bytes",
            f"A, B and policies take {total} bytes, over {limits.max_array_bytes}",
        )
    return total
