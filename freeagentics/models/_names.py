"""Names of a model's factors, states, controls, modalities and outcomes, never missing.

Names come from the model's :class:`~freeagentics.models.Labels`; where a label set is
missing, of the wrong length or not unique, names are generated (``f0``, ``s0``,
``u0``, ``m0``, ``o0``, ...), so every index has exactly one name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from freeagentics.models._model import GenerativeModel

__all__ = ["ModelNames", "model_names", "names_or_generated"]


def names_or_generated(given: Sequence[str] | None, count: int, prefix: str) -> tuple[str, ...]:
    """``given`` when it is ``count`` unique non-blank strings, else ``prefix0..``."""
    valid = (
        given is not None
        and len(given) == count
        and all(isinstance(n, str) and n.strip() for n in given)
        and len(set(given)) == count
    )
    return tuple(given) if valid else tuple(f"{prefix}{i}" for i in range(count))


def _at(items: Sequence, i: int) -> Sequence | None:
    return items[i] if i < len(items) else None


@dataclass(frozen=True)
class ModelNames:
    """One name per factor, state (per factor), control (per factor), modality, outcome."""

    factors: tuple[str, ...]
    states: tuple[tuple[str, ...], ...]
    controls: tuple[tuple[str, ...], ...]
    modalities: tuple[str, ...]
    outcomes: tuple[tuple[str, ...], ...]


def model_names(model: GenerativeModel) -> ModelNames:
    """The names of ``model``'s labels, generated where a label set is unusable."""
    labels = model.labels
    return ModelNames(
        factors=names_or_generated(labels.factors, model.num_factors, "f"),
        states=tuple(
            names_or_generated(_at(labels.states, f), s, "s")
            for f, s in enumerate(model.num_states)
        ),
        controls=tuple(
            names_or_generated(_at(labels.controls, f), u, "u")
            for f, u in enumerate(model.num_controls)
        ),
        modalities=names_or_generated(labels.modalities, model.num_modalities, "m"),
        outcomes=tuple(
            names_or_generated(_at(labels.outcomes, m), o, "o") for m, o in enumerate(model.num_obs)
        ),
    )
