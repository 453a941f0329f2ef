"""Exact comparison of two cohorts' evolving state (beliefs, plans, learned counts)."""

from __future__ import annotations

import numpy as np

from freeagentics.agents import Cohort

STATE = ("qs", "free_energy", "pA", "pB", "G", "q_pi", "actions")


def assert_same_state(one: Cohort, other: Cohort) -> None:
    """Every array of :data:`STATE` equal bit for bit, with the same dtype."""
    for name in STATE:
        ours, theirs = getattr(one, name), getattr(other, name)
        if ours is None or theirs is None:
            assert ours is theirs, name
            continue
        pairs = zip(*((x if isinstance(x, list) else [x]) for x in (ours, theirs)), strict=True)
        for a, b in pairs:
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)
