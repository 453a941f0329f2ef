"""The compat Agent's model laid out for the single-agent kernels, rebuilt on change.

pymdp users edit ``agent.C[1][1] = 3.0`` or ``agent.A = ...`` between steps and expect
the next call to use the new values, so the layout is keyed by the bytes and shapes of
every array it reads; comparing them costs a few microseconds, rebuilding only happens
when something changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.inference._maths import log_stable, softmax
from freeagentics.inference._single_agent import JOINT_STATE_THRESHOLD
from freeagentics.inference.policies import _novelty_weights

__all__ = ["MAX_JOINT_ENTRIES", "JointLayout", "layout_key", "pad_beliefs"]

#: largest (joint states x joint outcomes) table for the joint information gain (400 MB)
MAX_JOINT_ENTRIES = 50_000_000


def _arrays(group) -> list[np.ndarray]:
    if group is None:
        return []
    if isinstance(group, np.ndarray) and group.dtype != object:
        return [group]
    return list(group)


def layout_key(groups, flags) -> list:
    """What the layout depends on: ``(shape, bytes)`` of every array, and ``flags``."""
    key: list = [flags]
    for group in groups:
        if group is None:
            key.append(None)
            continue
        for a in _arrays(group):
            a = np.asarray(a)
            key.append((a.shape, a.dtype.str, a.tobytes()))
        key.append(len(group))
    return key


def pad_beliefs(beliefs, width: int) -> np.ndarray:
    """Per-factor vectors → ``(F, width)`` float64, zero padded."""
    out = np.zeros((len(beliefs), width))
    for f, q in enumerate(beliefs):
        q = np.asarray(q, dtype=np.float64).reshape(-1)
        out[f, : q.shape[0]] = q
    return out


def log_preference_steps(C: list[np.ndarray], horizon: int, omax: int) -> np.ndarray:
    """``ln softmax(C_m[:, t])`` for each modality and scored step → ``(M, T, Omax)``.

    A one-axis ``C_m`` applies at every step; a two-axis ``C_m`` gives one column per
    step and must have at least ``horizon`` of them (extra columns are unused)."""
    out = np.zeros((len(C), horizon, omax))
    for m, c in enumerate(C):
        c = np.asarray(c, dtype=np.float64)
        if c.ndim == 1:
            c = np.repeat(c[:, None], horizon, axis=1)
        elif c.ndim != 2 or c.shape[1] < horizon:
            raise ConfigurationError(
                f"C[{m}] has shape {c.shape}: a time-dependent C needs one column per scored "
                f"step ({horizon}) and one row per outcome"
            )
        out[m, :, : c.shape[0]] = log_stable(softmax(c[:, :horizon], axis=0)).T
    return out


@dataclass
class JointLayout:
    """Dense, padded arrays for :mod:`freeagentics.inference._single_agent`."""

    num_states: np.ndarray  # (F,) int64
    num_obs: np.ndarray  # (M,) int64
    num_controls: np.ndarray  # (F,) int64
    idx: np.ndarray  # (S, F) int64
    A: np.ndarray  # (M, Omax, S)
    B: np.ndarray  # (F, Smax, Smax, Umax)
    log_C: np.ndarray  # (M, T, Omax) or (0, 0, 0)
    po: np.ndarray  # (S, O_joint) or (0, 0)
    neg_entropy: np.ndarray  # (S,) or (0,)
    wA: np.ndarray  # (M, Omax, S) or (0, 0, 0)
    wB: np.ndarray  # (F, Smax, Smax, Umax) or (0, 0, 0, 0)
    log_E: np.ndarray  # (P,)
    policies: np.ndarray  # (P, T, F) int64
    first_actions: np.ndarray  # (P, F) int64

    @property
    def smax(self) -> int:
        return int(self.num_states.max())

    @classmethod
    def build(
        cls,
        A,
        B,
        C,
        E,
        pA,
        pB,
        policies: np.ndarray,
        *,
        horizon: int,
        use_utility: bool,
        use_states_info_gain: bool,
        use_param_info_gain: bool,
    ) -> JointLayout:
        A = [np.asarray(a, dtype=np.float64) for a in _arrays(A)]
        B = [np.asarray(b, dtype=np.float64) for b in _arrays(B)]
        num_states = np.array([b.shape[0] for b in B], dtype=np.int64)
        num_controls = np.array([b.shape[2] for b in B], dtype=np.int64)
        num_obs = np.array([a.shape[0] for a in A], dtype=np.int64)
        num_joint = int(np.prod(num_states))
        smax, omax, umax = int(num_states.max()), int(num_obs.max()), int(num_controls.max())
        idx = np.stack(np.unravel_index(np.arange(num_joint), tuple(num_states)), axis=1).astype(
            np.int64
        )

        A_flat = np.zeros((len(A), omax, num_joint))
        for m, a in enumerate(A):
            A_flat[m, : a.shape[0]] = a.reshape(a.shape[0], num_joint)
        B_pad = np.zeros((len(B), smax, smax, umax))
        for f, b in enumerate(B):
            B_pad[f, : b.shape[0], : b.shape[1], : b.shape[2]] = b

        log_C = (
            log_preference_steps(_arrays(C), horizon, omax) if use_utility else np.zeros((0, 0, 0))
        )
        if use_states_info_gain:
            joint_outcomes = int(np.prod(num_obs))
            if num_joint * joint_outcomes > MAX_JOINT_ENTRIES:
                raise ConfigurationError(
                    f"the state information gain over the joint outcome needs a table of "
                    f"{num_joint:,} joint states x {joint_outcomes:,} joint outcomes, over the "
                    f"limit of {MAX_JOINT_ENTRIES:,} entries; use_states_info_gain=False, or "
                    "a Cohort with info_gain='factorised', handles such models"
                )
            po = A_flat[0, : num_obs[0]].T
            for m in range(1, len(A)):
                po = (po[:, :, None] * A_flat[m, : num_obs[m]].T[:, None, :]).reshape(num_joint, -1)
            po = np.ascontiguousarray(po)
            neg_entropy = (po * np.log(po + JOINT_STATE_THRESHOLD)).sum(-1)
        else:
            po, neg_entropy = np.zeros((0, 0)), np.zeros(0)

        wA = np.zeros((0, 0, 0))
        if use_param_info_gain and pA is not None:
            weights = _novelty_weights(tuple(np.asarray(p, dtype=np.float64) for p in pA), False)
            wA = np.zeros_like(A_flat)
            for m, w in enumerate(weights):
                wA[m, : w.shape[0]] = w.reshape(w.shape[0], num_joint)
        wB = np.zeros((0, 0, 0, 0))
        if use_param_info_gain and pB is not None:
            weights = _novelty_weights(tuple(np.asarray(p, dtype=np.float64) for p in pB), False)
            wB = np.zeros_like(B_pad)
            for f, w in enumerate(weights):
                wB[f, : w.shape[0], : w.shape[1], : w.shape[2]] = w

        E = np.asarray(E, dtype=np.float64)
        return cls(
            num_states=num_states,
            num_obs=num_obs,
            num_controls=num_controls,
            idx=idx,
            A=A_flat,
            B=B_pad,
            log_C=log_C,
            po=po,
            neg_entropy=neg_entropy,
            wA=wA,
            wB=wB,
            log_E=log_stable(E),
            policies=policies,
            first_actions=np.ascontiguousarray(policies[:, 0, :]),
        )
