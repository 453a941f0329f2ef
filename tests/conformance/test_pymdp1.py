"""Agreement with pymdp 1.x (JAX) on models with factor dependencies.

pymdp 0.0.7.1 cannot express a modality that depends on some factors only, nor a
factor whose transitions depend on other factors; pymdp 1.x can. It runs in its own
process and environment (``make peers``; ``FREEAGENTICS_PYMDP1_PATH`` names it).
Compared: G (1.x scores utility with C as given and sums information gain over
modalities: ``utility="raw"``, ``info_gain="factorised"``), q_pi, and the empirical
prior for the next step, for random beliefs and actions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_factory import random_model
from pymdp1_peer import run_pymdp1

from freeagentics import inference as fi
from freeagentics.models import GenerativeModel

WORKER = Path(__file__).parent / "peers" / "pymdp1_worker.py"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cases_and_results():
    cases = []
    for seed in range(20):
        rm = random_model(1000 + seed, with_deps=True, max_controls=2)
        rng = np.random.default_rng(seed)
        cases.append(
            {
                "A": [a.tolist() for a in rm.A],
                "B": [b.tolist() for b in rm.B],
                "C": [c.tolist() for c in rm.C],
                "A_deps": rm.A_deps,
                "B_deps": rm.B_deps,
                "policy_len": int(rng.integers(1, 3)),
                "gamma": float(rng.choice([1.0, 4.0, 16.0])),
                "qs": [rng.dirichlet(np.ones(s)).tolist() for s in rm.num_states],
                "action": [int(rng.integers(u)) for u in rm.num_controls],
            }
        )
    return cases, run_pymdp1(WORKER, cases)


def test_G_q_pi_and_empirical_prior_match_with_dependencies(cases_and_results):
    cases, results = cases_and_results
    for i, (case, theirs) in enumerate(zip(cases, results, strict=True)):
        policies = np.asarray(theirs["policies"], dtype=np.int64)
        model = GenerativeModel.create(
            case["A"],
            case["B"],
            case["C"],
            A_deps=case["A_deps"],
            B_deps=case["B_deps"],
            policies=policies,
        )
        qs = [np.asarray(q)[None] for q in case["qs"]]
        G = fi.expected_free_energy(
            qs,
            model.A,
            model.B,
            model.C,
            model.A_deps,
            model.B_deps,
            model.policies,
            fi.EFEOptions(utility="raw", info_gain="factorised"),
        )
        q_pi = fi.policy_posterior(G, case["gamma"], fi.log_stable(model.E))
        np.testing.assert_allclose(G[0], theirs["G"], atol=1e-6, err_msg=f"case {i} G")
        np.testing.assert_allclose(q_pi[0], theirs["q_pi"], atol=1e-6, err_msg=f"case {i} q_pi")
        prior = fi.empirical_prior(
            qs, model.B, model.B_deps, np.asarray(case["action"], dtype=np.int64)[None]
        )
        for f, (ours, ref) in enumerate(zip(prior, theirs["prior"], strict=True)):
            np.testing.assert_allclose(ours[0], ref, atol=1e-9, err_msg=f"case {i} prior[{f}]")
