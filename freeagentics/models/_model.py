"""The generative model: A, B, C, D, E and policies, with factor dependencies.

Shapes (``F`` hidden-state factors of sizes ``S_f``, ``M`` modalities of sizes ``O_m``,
``U_f`` controls per factor, ``P`` policies of length ``T``):

- ``A[m]``: ``(O_m, *S[A_deps[m]])`` — p(o_m | the factors modality ``m`` depends on)
- ``B[f]``: ``(S_f, *S[B_deps[f]], U_f)`` — p(s_f' | the factors ``f`` depends on, control)
- ``C[m]``: ``(O_m,)`` — log-preferences over outcomes (any real numbers)
- ``D[f]``: ``(S_f,)`` — prior over the initial state
- ``E``: ``(P,)`` — prior over policies (habits)
- ``policies``: ``(P, T, F)`` int — the control of each factor at each step

A model is immutable once built: its arrays are read-only so one copy can be
shared by every agent of a cohort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from freeagentics.errors import LimitError, ModelError
from freeagentics.models._limits import DEFAULT_MODEL_LIMITS, ModelLimits
from freeagentics.models._policies import enumerate_policies
from freeagentics.models._validate import (
    check_distribution_columns,
    check_finite,
    check_shape,
)

__all__ = ["GenerativeModel", "Labels"]

ArrayLike = np.ndarray | Sequence


@dataclass(frozen=True)
class Labels:
    """Optional human names for factors, states, modalities, outcomes and controls."""

    factors: tuple[str, ...] = ()
    states: tuple[tuple[str, ...], ...] = ()
    modalities: tuple[str, ...] = ()
    outcomes: tuple[tuple[str, ...], ...] = ()
    controls: tuple[tuple[str, ...], ...] = ()


def _as_list(value: ArrayLike | None, name: str) -> list[np.ndarray] | None:
    """Accept one array, a list of arrays, or a numpy object array of arrays."""
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.dtype != object:
        return [np.asarray(value, dtype=np.float64)]
    try:
        return [np.asarray(v, dtype=np.float64) for v in value]
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{name} must be an array or a list of numeric arrays: {exc}") from exc


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class GenerativeModel:
    """A validated discrete-state generative model; build it with :meth:`create`."""

    A: tuple[np.ndarray, ...]
    B: tuple[np.ndarray, ...]
    C: tuple[np.ndarray, ...]
    D: tuple[np.ndarray, ...]
    E: np.ndarray
    policies: np.ndarray
    A_deps: tuple[tuple[int, ...], ...]
    B_deps: tuple[tuple[int, ...], ...]
    control_factors: tuple[int, ...]
    labels: Labels = field(default_factory=Labels)

    # ------------------------------------------------------------------ dimensions
    @cached_property  # read in every step's hot path
    def num_states(self) -> tuple[int, ...]:
        return tuple(b.shape[0] for b in self.B)

    @cached_property  # read in every step's hot path
    def num_obs(self) -> tuple[int, ...]:
        return tuple(a.shape[0] for a in self.A)

    @cached_property  # read in every step's hot path
    def num_controls(self) -> tuple[int, ...]:
        return tuple(b.shape[-1] for b in self.B)

    @property
    def num_factors(self) -> int:
        return len(self.B)

    @property
    def num_modalities(self) -> int:
        return len(self.A)

    @property
    def num_policies(self) -> int:
        return self.policies.shape[0]

    @property
    def policy_len(self) -> int:
        return self.policies.shape[1]

    @property
    def has_full_A_deps(self) -> bool:
        """True when every modality depends on every factor (pymdp 0.0.7.1's layout)."""
        full = tuple(range(self.num_factors))
        return all(deps == full for deps in self.A_deps)

    @property
    def has_simple_B_deps(self) -> bool:
        """True when every factor's transitions depend only on itself and its control."""
        return all(deps == (f,) for f, deps in enumerate(self.B_deps))

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        A: ArrayLike,
        B: ArrayLike,
        C: ArrayLike | None = None,
        D: ArrayLike | None = None,
        E: ArrayLike | None = None,
        *,
        policies: ArrayLike | None = None,
        policy_len: int = 1,
        A_deps: Sequence[Sequence[int]] | None = None,
        B_deps: Sequence[Sequence[int]] | None = None,
        control_factors: Sequence[int] | None = None,
        labels: Labels | None = None,
        limits: ModelLimits = DEFAULT_MODEL_LIMITS,
    ) -> GenerativeModel:
        """Validate the arrays and return an immutable model.

        ``A``/``B``/``C``/``D`` take one array (a single modality or factor) or a list.
        Missing ``C`` means no preferences (zeros), missing ``D`` a uniform prior,
        missing ``E`` a uniform policy prior, missing ``policies`` every combination of
        controls over ``policy_len`` steps. A ``B[f]`` of two axes is a factor with a
        single control (uncontrolled). Raises :class:`~freeagentics.errors.ModelError`
        naming the array, index and expectation on the first problem found, or
        :class:`~freeagentics.errors.LimitError` when the factors or the policies to
        enumerate are over ``limits`` (checked before enumerating).
        """
        A_list = _as_list(A, "A")
        B_list = _as_list(B, "B")
        if not A_list:
            raise ModelError("A must hold at least one modality", array="A")
        if not B_list:
            raise ModelError("B must hold at least one hidden-state factor", array="B")

        num_factors = len(B_list)
        for what, count in (("factors", num_factors), ("modalities", len(A_list))):
            if count > limits.max_factors:
                raise LimitError(
                    f"model: {count} {what}, over {limits.max_factors} (limit max_factors)",
                    limit="max_factors",
                )
        B_deps_t = _deps(B_deps, num_factors, num_factors, "B_deps", default_self=True)
        B_list = [
            b[..., None] if b.ndim == 1 + len(B_deps_t[f]) else b for f, b in enumerate(B_list)
        ]
        num_states = []
        for f, b in enumerate(B_list):
            if b.ndim != 2 + len(B_deps_t[f]):
                raise ModelError(
                    f"B[{f}] has {b.ndim} axes, expected {2 + len(B_deps_t[f])} "
                    f"(next state, {len(B_deps_t[f])} conditioning factor(s), control)",
                    array=f"B[{f}]",
                )
            num_states.append(b.shape[0])
        for f, b in enumerate(B_list):
            expected = (num_states[f], *(num_states[g] for g in B_deps_t[f]), b.shape[-1])
            check_shape(f"B[{f}]", b, expected, f"S_{f}, states of factors {B_deps_t[f]}, controls")
            check_distribution_columns(f"B[{f}]", b)

        A_deps_t = _deps(A_deps, len(A_list), num_factors, "A_deps", default_self=False)
        for m, a in enumerate(A_list):
            expected = (a.shape[0], *(num_states[f] for f in A_deps_t[m]))
            check_shape(f"A[{m}]", a, expected, f"outcomes, states of factors {A_deps_t[m]}")
            check_distribution_columns(f"A[{m}]", a)
        num_obs = [a.shape[0] for a in A_list]

        C_list = _as_list(C, "C") if C is not None else [np.zeros(o) for o in num_obs]
        _check_count("C", C_list, len(num_obs), "modalities")
        for m, c in enumerate(C_list):
            check_shape(
                f"C[{m}]", c, (num_obs[m],), f"one log-preference per outcome of modality {m}"
            )
            check_finite(f"C[{m}]", c)

        D_list = _as_list(D, "D") if D is not None else [np.full(s, 1.0 / s) for s in num_states]
        _check_count("D", D_list, num_factors, "factors")
        for f, d in enumerate(D_list):
            check_shape(
                f"D[{f}]", d, (num_states[f],), f"one prior probability per state of factor {f}"
            )
            check_distribution_columns(f"D[{f}]", d)

        num_controls = [b.shape[-1] for b in B_list]
        if control_factors is None:
            control_t = tuple(f for f, u in enumerate(num_controls) if u > 1)
        else:
            control_t = tuple(int(f) for f in control_factors)
            for f in control_t:
                if not 0 <= f < num_factors:
                    raise ModelError(
                        f"control_factors names factor {f}, but the model has factors "
                        f"0..{num_factors - 1}",
                        array="control_factors",
                    )
        if policies is None:
            policies_arr = enumerate_policies(num_controls, policy_len, control_t, limits)
        else:
            policies_arr = _check_policies(policies, num_controls, control_t)

        num_policies = policies_arr.shape[0]
        if E is None:
            E_arr = np.full(num_policies, 1.0 / num_policies)
        else:
            E_arr = np.asarray(E, dtype=np.float64)
            check_shape("E", E_arr, (num_policies,), "one prior probability per policy")
            check_distribution_columns("E", E_arr)

        return cls(
            A=tuple(_frozen(a) for a in A_list),
            B=tuple(_frozen(b) for b in B_list),
            C=tuple(_frozen(c) for c in C_list),
            D=tuple(_frozen(d) for d in D_list),
            E=_frozen(E_arr),
            policies=_frozen(policies_arr),
            A_deps=A_deps_t,
            B_deps=B_deps_t,
            control_factors=control_t,
            labels=labels or Labels(),
        )

    def replace(self, **changes) -> GenerativeModel:
        """A new validated model with some arrays replaced (e.g. ``C=...``)."""
        params = {
            "A": self.A,
            "B": self.B,
            "C": self.C,
            "D": self.D,
            "E": self.E,
            "policies": self.policies,
            "A_deps": self.A_deps,
            "B_deps": self.B_deps,
            "control_factors": self.control_factors,
            "labels": self.labels,
        }
        if "policies" in changes and "E" not in changes:
            params["E"] = None
        params.update(changes)
        return GenerativeModel.create(**params)


def _check_count(name: str, items: list, expected: int, what: str) -> None:
    if len(items) != expected:
        raise ModelError(
            f"{name} has {len(items)} entries, expected {expected} (one per {what})", array=name
        )


def _deps(
    deps: Sequence[Sequence[int]] | None,
    count: int,
    num_factors: int,
    name: str,
    *,
    default_self: bool,
) -> tuple[tuple[int, ...], ...]:
    if deps is None:
        if default_self:
            return tuple((f,) for f in range(count))
        return tuple(tuple(range(num_factors)) for _ in range(count))
    out = tuple(tuple(int(f) for f in d) for d in deps)
    if len(out) != count:
        raise ModelError(f"{name} has {len(out)} entries, expected {count}", array=name)
    for i, d in enumerate(out):
        if not d:
            raise ModelError(f"{name}[{i}] is empty; it must name at least one factor", array=name)
        if len(set(d)) != len(d):
            raise ModelError(f"{name}[{i}] = {list(d)} names a factor twice", array=name)
        for f in d:
            if not 0 <= f < num_factors:
                raise ModelError(
                    f"{name}[{i}] names factor {f}, but the model has factors 0..{num_factors - 1}",
                    array=name,
                )
    return out


def _check_policies(
    policies: ArrayLike, num_controls: list[int], control_factors: tuple[int, ...]
) -> np.ndarray:
    arr = np.asarray(policies)
    if arr.ndim == 2:  # pymdp's list of (T, F) arrays arrives here as (P, F) only if T == 1
        arr = arr[:, None, :]
    if arr.ndim != 3 or arr.shape[2] != len(num_controls) or arr.shape[0] == 0:
        raise ModelError(
            f"policies has shape {arr.shape}, expected (P, T, F) "
            f"with F = {len(num_controls)} factors",
            array="policies",
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ModelError("policies must hold integer control indices", array="policies")
    arr = arr.astype(np.int64)
    for f, u in enumerate(num_controls):
        column = arr[:, :, f]
        bad = (column < 0) | (column >= u)
        if f not in control_factors:
            bad |= column != 0
        if bad.any():
            p, t = (int(i) for i in np.argwhere(bad)[0])
            allowed = f"0..{u - 1}" if f in control_factors else "0 (factor is not controllable)"
            raise ModelError(
                f"policies[{p}] step {t} gives factor {f} control {int(column[p, t])}, "
                f"expected {allowed}",
                array="policies",
                index=(p, t, f),
            )
    return arr
