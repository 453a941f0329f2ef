"""Policy enumeration: every sequence of actions an agent may plan over."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.models._limits import DEFAULT_MODEL_LIMITS, ModelLimits, check_policy_count

__all__ = ["enumerate_policies"]


def enumerate_policies(
    num_controls: Sequence[int],
    policy_len: int,
    control_factors: Sequence[int] | None = None,
    limits: ModelLimits = DEFAULT_MODEL_LIMITS,
) -> np.ndarray:
    """All combinations of actions over ``policy_len`` steps.

    Factors outside ``control_factors`` (default: factors with more than one control)
    always take action 0. The ordering is lexicographic over the flattened
    ``(time, factor)`` actions, which is the order pymdp uses, so policy ``p`` here is
    policy ``p`` there.

    Returns:
        policies: ``(P, policy_len, F)`` int64, ``P = prod(U_f for controllable f) ** policy_len``.

    Raises :class:`~freeagentics.errors.LimitError` before building anything when
    ``policy_len`` or ``P`` is over ``limits``.
    """
    policy_len = whole_number_at_least("policy_len", policy_len, 1, error=ValueError)
    num_controls = [int(u) for u in num_controls]
    if control_factors is None:
        control_factors = [f for f, u in enumerate(num_controls) if u > 1]
    check_policy_count(num_controls, policy_len, control_factors, limits)
    choices = [
        range(u) if f in control_factors else range(1) for f, u in enumerate(num_controls)
    ] * policy_len
    rows = np.array(list(itertools.product(*choices)), dtype=np.int64)
    return rows.reshape(-1, policy_len, len(num_controls))
