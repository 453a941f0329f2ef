"""Expected free energy of policies and the posterior over policies.

``G`` follows pymdp's sign convention: it is the NEGATIVE expected free energy, the
sum over a policy's steps of expected utility plus information gain, so larger is
better and ``q_pi = softmax(gamma * G + ln E)``.

Utility scores predicted outcomes with ``ln softmax(C)`` (``utility="log_softmax"``,
pymdp 0.0.7.1) or with ``C`` as given (``"raw"``, pymdp 1.x); the two differ by a
constant per step, so ``q_pi`` is the same either way.

State information gain is the mutual information between states and outcomes:
``"factorised"`` sums it over modalities, each on its own (pymdp 1.x; cheap);
``"joint"`` takes it over the joint outcome of all modalities (pymdp 0.0.7.1; exact,
but its cost grows with the product of outcome counts). With one modality they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.inference._maths import (
    EPS,
    contract,
    entropy,
    log_preferences,
    log_stable,
    softmax,
)

__all__ = [
    "EFEOptions",
    "expected_free_energy",
    "expected_obs",
    "expected_states",
    "policy_posterior",
]

#: pymdp 0.0.7.1 ignores joint states less probable than this in its information gain.
JOINT_STATE_THRESHOLD = float(np.exp(-16))


@dataclass(frozen=True)
class EFEOptions:
    """Which terms enter the expected free energy, and how they are computed."""

    use_utility: bool = True
    use_states_info_gain: bool = True
    use_param_info_gain: bool = False
    utility: str = "log_softmax"
    info_gain: str = "factorised"

    def __post_init__(self) -> None:
        if self.utility not in ("log_softmax", "raw"):
            raise ConfigurationError(
                f"utility must be 'log_softmax' or 'raw', got {self.utility!r}"
            )
        if self.info_gain not in ("factorised", "joint"):
            raise ConfigurationError(
                f"info_gain must be 'factorised' or 'joint', got {self.info_gain!r}"
            )


def expected_states(
    qs: list[np.ndarray],
    B: tuple[np.ndarray, ...],
    B_deps: tuple[tuple[int, ...], ...],
    policies: np.ndarray,
    B_batched: bool = False,
) -> list[list[np.ndarray]]:
    """Predicted beliefs over states at each future step of each policy.

    Args:
        qs: per factor ``(N, S_f)``, the current posterior.
        B: per factor ``(S_f, *S[B_deps[f]], U_f)``, or ``(N, ...)`` when ``B_batched``.
        policies: ``(P, T, F)`` int.

    Returns:
        ``out[t][f]``: ``(N, P, S_f)`` for ``t`` in ``0..T-1`` (the state after step ``t``).
    """
    n = qs[0].shape[0]
    num_policies, horizon, _ = policies.shape
    current = [np.broadcast_to(q[:, None, :], (n, num_policies, q.shape[-1])) for q in qs]
    out = []
    for t in range(horizon):
        nxt = []
        for f, (b, deps) in enumerate(zip(B, B_deps, strict=True)):
            act = policies[:, t, f]
            if B_batched:
                # (N, S_f, *S[deps], P) -> (N, P, S_f, *S[deps])
                selected = np.moveaxis(b[..., act], -1, 1)
                operands: list = [selected, [0, 1, 2, *(3 + i for i in range(len(deps)))]]
                for i, g in enumerate(deps):
                    operands += [current[g], [0, 1, 3 + i]]
                nxt.append(np.einsum(*operands, [0, 1, 2], optimize=len(deps) > 1))
            else:
                selected = np.moveaxis(b[..., act], -1, 0)  # (P, S_f, *S[deps])
                operands = [selected, [1, 2, *(3 + i for i in range(len(deps)))]]
                for i, g in enumerate(deps):
                    operands += [current[g], [0, 1, 3 + i]]
                nxt.append(np.einsum(*operands, [0, 1, 2], optimize=len(deps) > 1))
        out.append(nxt)
        current = nxt
    return out


def expected_obs(
    qs_pi: list[np.ndarray],
    A: tuple[np.ndarray, ...],
    A_deps: tuple[tuple[int, ...], ...],
    A_batched: bool = False,
) -> list[np.ndarray]:
    """Predicted outcome distribution per modality at one step.

    Args:
        qs_pi: per factor ``(N, P, S_f)``.

    Returns:
        per modality ``(N, P, O_m)``.
    """
    return [contract(a, A_batched, deps, qs_pi) for a, deps in zip(A, A_deps, strict=True)]


def expected_free_energy(
    qs: list[np.ndarray],
    A: tuple[np.ndarray, ...],
    B: tuple[np.ndarray, ...],
    C: tuple[np.ndarray, ...],
    A_deps: tuple[tuple[int, ...], ...],
    B_deps: tuple[tuple[int, ...], ...],
    policies: np.ndarray,
    options: EFEOptions = EFEOptions(),
    *,
    A_batched: bool = False,
    B_batched: bool = False,
    C_batched: bool = False,
    pA: tuple[np.ndarray, ...] | None = None,
    pB: tuple[np.ndarray, ...] | None = None,
) -> np.ndarray:
    """Negative expected free energy ``G`` of every policy for every agent.

    Args:
        qs: per factor ``(N, S_f)``.
        A, B: as in the model, with a leading ``(N,)`` axis when batched.
        C: per modality ``(O_m,)``, or ``(N, O_m)`` when ``C_batched``.
        policies: ``(P, T, F)``.
        pA, pB: Dirichlet concentrations (shaped like A and B) for the parameter
            information gain; used only when ``options.use_param_info_gain``.

    Returns:
        ``G``: ``(N, P)``.
    """
    n = qs[0].shape[0]
    num_policies, horizon, _ = policies.shape
    dtype = qs[0].dtype
    G = np.zeros((n, num_policies), dtype=dtype)
    qs_future = expected_states(qs, B, B_deps, policies, B_batched)
    log_c = log_preferences(C, options.utility) if options.use_utility else None
    h_a = (
        [entropy(a, axis=1 if A_batched else 0) for a in A]
        if options.use_states_info_gain and options.info_gain == "factorised"
        else None
    )
    joint = (
        _JointOutcomes(A, A_deps, tuple(q.shape[-1] for q in qs), A_batched)
        if options.use_states_info_gain and options.info_gain == "joint"
        else None
    )
    wA = _novelty_weights(pA, A_batched) if options.use_param_info_gain and pA is not None else None
    wB = _novelty_weights(pB, B_batched) if options.use_param_info_gain and pB is not None else None

    previous = [np.broadcast_to(q[:, None, :], (n, num_policies, q.shape[-1])) for q in qs]
    for t in range(horizon):
        qs_t = qs_future[t]
        qo_t = expected_obs(qs_t, A, A_deps, A_batched)
        if log_c is not None:
            for qo, lc in zip(qo_t, log_c, strict=True):
                G += np.einsum("npo,no->np", qo, lc) if C_batched else qo @ lc
        if h_a is not None:
            for qo, h, deps in zip(qo_t, h_a, A_deps, strict=True):
                G += entropy(qo) - contract(h, A_batched, deps, qs_t, keep_first=False)
        if joint is not None:
            G += joint.info_gain(qs_t)
        if wA is not None:
            for qo, w, deps in zip(qo_t, wA, A_deps, strict=True):
                G -= (qo * contract(w, A_batched, deps, qs_t)).sum(-1)
        if wB is not None:
            G += _transition_novelty(wB, B_deps, qs_t, previous, policies[:, t, :], B_batched)
        previous = qs_t
    return G


def _novelty_weights(p: tuple[np.ndarray, ...], batched: bool) -> list[np.ndarray]:
    """``W = 1/sum(a) - 1/a`` per Dirichlet tensor (over axis 0, or 1 with an agent
    axis), zero where the concentration is zero (those entries are never learned)."""
    out = []
    axis = 1 if batched else 0
    for a in p:
        shifted = a + a.dtype.type(EPS)
        w = 1.0 / shifted.sum(axis=axis, keepdims=True) - 1.0 / shifted
        out.append(np.where(a > 0, w, 0).astype(a.dtype))
    return out


def _transition_novelty(
    wB: list[np.ndarray],
    B_deps: tuple[tuple[int, ...], ...],
    qs_t: list[np.ndarray],
    previous: list[np.ndarray],
    actions: np.ndarray,
    B_batched: bool,
) -> np.ndarray:
    """``-sum_f qs_t[f] . (W_f[..., a] applied to previous beliefs)`` → ``(N, P)``."""
    total = 0
    for f, (w, deps) in enumerate(zip(wB, B_deps, strict=True)):
        act = actions[:, f]
        if B_batched:
            selected = np.moveaxis(w[..., act], -1, 1)  # (N, P, S_f, *S[deps])
            operands: list = [selected, [0, 1, 2, *(3 + i for i in range(len(deps)))]]
        else:
            selected = np.moveaxis(w[..., act], -1, 0)  # (P, S_f, *S[deps])
            operands = [selected, [1, 2, *(3 + i for i in range(len(deps)))]]
        for i, g in enumerate(deps):
            operands += [previous[g], [0, 1, 3 + i]]
        predicted = np.einsum(*operands, [0, 1, 2], optimize=len(deps) > 1)
        total = total - (qs_t[f] * predicted).sum(-1)
    return total


class _JointOutcomes:
    """Outcome distribution over the joint of all modalities, per joint hidden state.

    ``po``: ``(S_joint, O_joint)`` (or ``(N, S_joint, O_joint)`` with per-agent A) and
    ``neg_entropy``: ``sum_o po log(po + exp(-16))`` per joint state.
    """

    def __init__(self, A, A_deps, num_states: tuple[int, ...], batched: bool):
        self.batched = batched
        lead = 1 if batched else 0
        self.num_states = num_states
        po = None
        for a, deps in zip(A, A_deps, strict=True):
            full = _expand_to_all_factors(a, deps, self.num_states, batched)  # (.., O_m, *S)
            if po is None:
                po = full
            else:  # outer product over outcomes, same states: (.., O_acc * O_m, *S)
                po = np.expand_dims(po, lead + 1) * np.expand_dims(full, lead)
                po = po.reshape(*po.shape[:lead], -1, *self.num_states)
        s_joint = int(np.prod(self.num_states))
        po = po.reshape(*po.shape[: lead + 1], s_joint)
        self.po = np.swapaxes(po, -1, -2)  # (.., S_joint, O_joint)
        self.neg_entropy = (self.po * np.log(self.po + JOINT_STATE_THRESHOLD)).sum(-1)

    def info_gain(self, qs_t: list[np.ndarray]) -> np.ndarray:
        """Mutual information of joint states and joint outcomes → ``(N, P)``."""
        n, num_policies = qs_t[0].shape[:2]
        qx = qs_t[0]
        for q in qs_t[1:]:
            qx = (qx[..., :, None] * q[..., None, :]).reshape(n, num_policies, -1)
        qx = np.where(qx > JOINT_STATE_THRESHOLD, qx, 0)
        if self.batched:
            qo = np.einsum("nps,nso->npo", qx, self.po)
            expected_neg_h = np.einsum("nps,ns->np", qx, self.neg_entropy)
        else:
            qo = qx @ self.po
            expected_neg_h = qx @ self.neg_entropy
        return expected_neg_h - (qo * log_stable(qo)).sum(-1)


def _expand_to_all_factors(a, deps, num_states, batched):
    """Broadcast ``A_m`` over the factors it does not depend on: ``(.., O, *S)``."""
    lead = 1 if batched else 0
    order = np.argsort(deps)
    perm = (*range(lead + 1), *(lead + 1 + order))
    a = np.transpose(a, perm)
    shape = list(a.shape[: lead + 1]) + [
        num_states[f] if f in deps else 1 for f in range(len(num_states))
    ]
    target = list(a.shape[: lead + 1]) + list(num_states)
    return np.broadcast_to(a.reshape(shape), target)


def policy_posterior(G: np.ndarray, gamma: float | np.ndarray, log_E: np.ndarray) -> np.ndarray:
    """``q_pi = softmax(gamma * G + ln E)``.

    Args:
        G: ``(N, P)``; gamma: scalar or ``(N,)``; log_E: ``(P,)`` or ``(N, P)``.

    Returns:
        ``(N, P)``.
    """
    gamma = np.asarray(gamma, dtype=G.dtype)
    if gamma.ndim == 1:
        gamma = gamma[:, None]
    return softmax(gamma * G + log_E, axis=-1)
