"""The B1 reference cases (BENCHMARKS.md, "Reference models") and their model files.

``explorer-g``, ``locator-g``, ``deep-g`` (explorer, policy_len 3), ``learner-g``
(explorer with Dirichlet learning of A) and ``learnerb-g`` (explorer learning A and B,
each agent its own ``(S, S, U)`` concentrations: 200 kB per agent in float32 at g = 10),
all with gamma = alpha = 8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from freeagentics.agents import CohortConfig
from freeagentics.models import GenerativeModel
from freeagentics.models.builders import explorer_model, locator_model

__all__ = ["KINDS", "Case", "parse_case", "write_model_npz"]

KINDS = ("explorer", "locator", "deep", "learner", "learnerb")
GAMMA = ALPHA = 8.0
#: fixed-point sweeps of state inference, the same for every implementation
NUM_ITER = 10


@dataclass(frozen=True)
class Case:
    """One B1 case: a kind and a grid size."""

    kind: str
    size: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.size}"

    @property
    def policy_len(self) -> int:
        return 3 if self.kind == "deep" else 1

    @property
    def learn_A(self) -> bool:
        return self.kind in ("learner", "learnerb")

    @property
    def learn_B(self) -> bool:
        return self.kind == "learnerb"

    def model(self) -> GenerativeModel:
        """The model, built by freeagentics' builders."""
        if self.kind == "locator":
            return locator_model(self.size, policy_len=self.policy_len)
        return explorer_model(self.size, policy_len=self.policy_len)

    def config(self, fast_path: bool = True) -> CohortConfig:
        """The cohort settings: gamma = alpha = 8, learning of A for ``learner``, of A
        and B for ``learnerb``; ``fast_path`` False runs the general numpy engine."""
        return CohortConfig(
            gamma=GAMMA,
            alpha=ALPHA,
            learn_A=self.learn_A,
            learn_B=self.learn_B,
            num_iter=NUM_ITER,
            fast_path=fast_path,
        )


def parse_case(text: str, sizes: list[int]) -> list[Case]:
    """``"deep-20"`` → that case; ``"deep"`` → one case per size in ``sizes``."""
    match = re.fullmatch(r"([a-z]+)(?:-(\d+))?", text.strip())
    if match is None or match.group(1) not in KINDS:
        raise ValueError(f"unknown case {text!r}: expected one of {KINDS}, optionally '-<size>'")
    kind, size = match.group(1), match.group(2)
    return [Case(kind, int(size))] if size else [Case(kind, s) for s in sizes]


def write_model_npz(case: Case, path: Path) -> None:
    """Write the arrays and settings peers need: single hidden-state factor only."""
    model = case.model()
    if model.num_factors != 1:
        raise ValueError(f"{case.name}: peer model files support one hidden-state factor")
    arrays = {f"A{m}": np.asarray(a, np.float64) for m, a in enumerate(model.A)}
    arrays.update({f"C{m}": np.asarray(c, np.float64) for m, c in enumerate(model.C)})
    np.savez(
        path,
        **arrays,
        B=np.asarray(model.B[0], np.float64),
        D=np.asarray(model.D[0], np.float64),
        num_modalities=model.num_modalities,
        policy_len=model.policy_len,
        gamma=GAMMA,
        alpha=ALPHA,
        num_iter=NUM_ITER,
        learn_A=case.learn_A,
        learn_B=case.learn_B,
    )
