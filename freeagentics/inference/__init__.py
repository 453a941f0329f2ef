"""Pure batched Active Inference maths: arrays in, arrays out.

Every function takes a leading agent axis ``N``; parameters are shared (no agent
axis) unless a ``*_batched`` flag says they carry one. No I/O, no global state,
randomness only through an explicit ``numpy.random.Generator``.
"""

from freeagentics.inference._maths import EPS, entropy, log_stable, softmax
from freeagentics.inference.actions import (
    action_marginals,
    action_probabilities,
    sample_categorical,
    select_actions,
)
from freeagentics.inference.learning import normalise, update_pA, update_pB
from freeagentics.inference.policies import (
    EFEOptions,
    expected_free_energy,
    expected_obs,
    expected_states,
    policy_posterior,
)
from freeagentics.inference.states import (
    empirical_prior,
    infer_states,
    joint_log_likelihood,
    variational_free_energy,
)

__all__ = [
    "EPS",
    "EFEOptions",
    "action_marginals",
    "action_probabilities",
    "empirical_prior",
    "entropy",
    "expected_free_energy",
    "expected_obs",
    "expected_states",
    "infer_states",
    "joint_log_likelihood",
    "log_stable",
    "normalise",
    "policy_posterior",
    "sample_categorical",
    "select_actions",
    "softmax",
    "update_pA",
    "update_pB",
    "variational_free_energy",
]
