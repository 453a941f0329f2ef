"""Random generative models for tests, drawn from a seed (no hypothesis needed).

Each returns plain numpy arrays in pymdp 0.0.7.1's layout (full dependencies)
unless dependencies are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RandomModel:
    A: list[np.ndarray]
    B: list[np.ndarray]
    C: list[np.ndarray]
    D: list[np.ndarray]
    num_obs: list[int]
    num_states: list[int]
    num_controls: list[int]
    A_deps: list[list[int]] | None = None
    B_deps: list[list[int]] | None = None


def _columns(rng: np.random.Generator, shape: tuple[int, ...], sharp: float) -> np.ndarray:
    """Random conditional distributions over axis 0; ``sharp`` > 1 makes them peakier."""
    x = rng.gamma(1.0 / sharp, size=shape) + 1e-3
    return x / x.sum(axis=0, keepdims=True)


def random_model(
    seed: int,
    num_factors: int | None = None,
    num_modalities: int | None = None,
    *,
    max_states: int = 4,
    max_obs: int = 4,
    max_controls: int = 3,
    with_deps: bool = False,
    uncontrolled: bool = True,
) -> RandomModel:
    """A random model with 1-3 factors and 1-3 modalities (unless given)."""
    rng = np.random.default_rng(seed)
    F = num_factors or int(rng.integers(1, 4))
    M = num_modalities or int(rng.integers(1, 4))
    num_states = [int(rng.integers(2, max_states + 1)) for _ in range(F)]
    num_obs = [int(rng.integers(2, max_obs + 1)) for _ in range(M)]
    num_controls = [int(rng.integers(2, max_controls + 1)) for _ in range(F)]
    if uncontrolled and F > 1 and rng.random() < 0.5:
        num_controls[int(rng.integers(F))] = 1
    sharp = float(rng.choice([0.5, 1.0, 3.0]))
    if with_deps:
        A_deps = [
            sorted(rng.choice(F, size=int(rng.integers(1, F + 1)), replace=False).tolist())
            for _ in range(M)
        ]
        B_deps = []
        for f in range(F):
            others = [g for g in range(F) if g != f and rng.random() < 0.4]
            B_deps.append(sorted([f, *others]))
    else:
        A_deps = [list(range(F)) for _ in range(M)]
        B_deps = [[f] for f in range(F)]
    A = [_columns(rng, (num_obs[m], *(num_states[f] for f in A_deps[m])), sharp) for m in range(M)]
    B = [
        _columns(rng, (num_states[f], *(num_states[g] for g in B_deps[f]), num_controls[f]), sharp)
        for f in range(F)
    ]
    C = [rng.normal(scale=2.0, size=o) for o in num_obs]
    D = [_columns(rng, (s,), 1.0) for s in num_states]
    return RandomModel(
        A,
        B,
        C,
        D,
        num_obs,
        num_states,
        num_controls,
        A_deps if with_deps else None,
        B_deps if with_deps else None,
    )


def obj_array(arrays: list[np.ndarray]) -> np.ndarray:
    """pymdp's object-array container."""
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = a
    return out


def expand_A(
    A: list[np.ndarray], A_deps: list[list[int]], num_states: list[int]
) -> list[np.ndarray]:
    """Broadcast each ``A[m]`` over the factors it ignores: full-dependency layout."""
    out = []
    for a, deps in zip(A, A_deps, strict=True):
        shape = [a.shape[0]] + [num_states[f] if f in deps else 1 for f in range(len(num_states))]
        out.append(np.broadcast_to(a.reshape(shape), (a.shape[0], *num_states)).copy())
    return out
