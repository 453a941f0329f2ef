"""Settings of a cohort: precision, action selection, planning cadence, learning."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError
from freeagentics.inference import EFEOptions
from freeagentics.inference.actions import SAMPLING_MODES, SELECTION_MODES

__all__ = ["TIE_TOLERANCE", "CohortConfig"]

#: default :attr:`CohortConfig.tie_tolerance` per dtype
TIE_TOLERANCE = {"float32": 1e-4, "float64": 1e-9}


@dataclass(frozen=True)
class CohortConfig:
    """How a cohort infers and acts.

    Defaults follow pymdp 0.0.7.1 (gamma = alpha = 16, deterministic marginal action
    selection, 10 fixed-point sweeps with tolerance 0.001) except ``dtype``, which is
    float32 for speed; ask for ``"float64"`` when comparing with other software.
    """

    dtype: str = "float32"
    gamma: float = 16.0
    alpha: float = 16.0
    action_selection: str = "deterministic"
    sampling: str = "marginal"
    efe: EFEOptions = field(default_factory=EFEOptions)
    num_iter: int = 10
    tolerance: float = 0.001
    #: plan (infer policies) every this many steps, following the plan in between
    plan_every: int = 1
    learn_A: bool = False
    learn_B: bool = False
    lr_pA: float = 1.0
    lr_pB: float = 1.0
    #: initial Dirichlet concentration = this × the model's A (or B) when learning
    prior_concentration: float = 1.0
    #: use the fused single-factor kernels when the model allows it
    fast_path: bool = True
    #: deterministic selection: actions whose probabilities differ by at most this are
    #: tied and the lowest-numbered wins (None: 1e-4 in float32, 1e-9 in float64, well
    #: above rounding, so every engine and kernel takes the same action; 0: ``argmax``)
    tie_tolerance: float | None = None

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "float64"):
            raise ConfigurationError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.action_selection not in SELECTION_MODES:
            raise ConfigurationError(
                f"action_selection must be one of {SELECTION_MODES}, got {self.action_selection!r}"
            )
        if self.sampling not in SAMPLING_MODES:
            raise ConfigurationError(
                f"sampling must be one of {SAMPLING_MODES}, got {self.sampling!r}"
            )
        for name in ("gamma", "alpha", "prior_concentration"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ConfigurationError(f"{name} must be a positive finite number, got {value!r}")
        for name in ("lr_pA", "lr_pB", "tie_tolerance"):
            value = getattr(self, name)
            if value is None:
                continue
            if not np.isfinite(value) or value < 0:
                raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("num_iter", "plan_every"):
            whole_number_at_least(name, getattr(self, name), 1)

    @property
    def ties(self) -> float:
        """The tie tolerance in effect (:attr:`tie_tolerance` or the dtype's default)."""
        return TIE_TOLERANCE[self.dtype] if self.tie_tolerance is None else self.tie_tolerance

    @property
    def float_type(self) -> type[np.floating]:
        return np.float32 if self.dtype == "float32" else np.float64
