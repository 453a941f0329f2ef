"""Metric families as plain data, as they travel between the server's processes.

A family is ``[name, type, help, [[sample name, labels, value], ...]]`` (what
:func:`freeagentics.server.metrics.families` makes of a registry). Here: adding the
families of several processes sample by sample (:class:`FamilySum`), checking families
read from outside the process before anything is built from them (:func:`checked`),
and turning them back into ``prometheus_client`` metrics (:func:`to_metrics`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.metrics_core import METRIC_TYPES

__all__ = ["Families", "FamilySum", "checked", "to_metrics"]

#: ``[[name, type, help, [[sample name, labels, value], ...]], ...]``
Families = list[list[Any]]

#: the classic exposition format's names (no quoting needed when written out)
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: limits on families read from elsewhere (generous for one process's registry)
MAX_FAMILIES = 512
MAX_SAMPLES = 200_000
MAX_LABELS = 16
MAX_TEXT = 1_000


class FamilySum:
    """Families of several processes as one set: samples of equal name and labels added
    (the earliest for ``*_created``, when counting began; the largest for the families in
    ``largest``). A family whose type differs from the one first seen under its name is
    left out and counted in :attr:`conflicts`."""

    def __init__(self, largest: frozenset[str] = frozenset()):
        self._largest = largest
        self._families: dict[str, list[Any]] = {}
        self._values: dict[str, dict[tuple, list[Any]]] = {}
        self.conflicts = 0

    def add(
        self, families: Families, labels: Callable[[str], dict[str, str] | None] = lambda _: None
    ) -> None:
        """Add ``families``; ``labels(family name)`` gives labels to add to each of that
        family's samples (None: none)."""
        for name, kind, text, samples in families:
            family = self._families.setdefault(name, [name, kind, text, []])
            if family[1] != kind:
                self.conflicts += 1
                continue
            extra = labels(name)
            held = self._values.setdefault(name, {})
            for sample_name, sample_labels, value in samples:
                if extra:
                    sample_labels = {**sample_labels, **extra}
                key = (sample_name, tuple(sorted(sample_labels.items())))
                if key not in held:
                    held[key] = [sample_name, sample_labels, value]
                elif sample_name.endswith("_created"):
                    held[key][2] = min(held[key][2], value)
                elif name in self._largest:
                    held[key][2] = max(held[key][2], value)
                else:
                    held[key][2] += value

    def families(self) -> Families:
        """What was added, one family per name, in the order first seen."""
        return [
            [name, kind, text, list(self._values.get(name, {}).values())]
            for name, kind, text, _ in self._families.values()
        ]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_sample(family: str, sample: Any) -> None:
    if not (isinstance(sample, list) and len(sample) == 3):
        raise ValueError(f"{family}: a sample is not [name, labels, value]")
    name, labels, value = sample
    if not (isinstance(name, str) and name.startswith(family) and METRIC_NAME.fullmatch(name)):
        raise ValueError(f"{family}: sample name {str(name)[:100]!r} is not one of the family's")
    if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
        raise ValueError(f"{family}: labels are not a map of at most {MAX_LABELS}")
    for label, text in labels.items():
        if not (isinstance(label, str) and LABEL_NAME.fullmatch(label)):
            raise ValueError(f"{family}: label name {str(label)[:100]!r} is not valid")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise ValueError(f"{family}: label {label} is not a string of at most {MAX_TEXT}")
    if not _is_number(value):
        raise ValueError(f"{family}: a sample's value is not a number")


def checked(data: Any, *, kinds: Iterable[str] = METRIC_TYPES) -> Families:
    """``data`` (read from outside this process) if it is families of the ``kinds`` given,
    within :data:`MAX_FAMILIES` families, :data:`MAX_SAMPLES` samples and
    :data:`MAX_LABELS` labels a sample; else ValueError naming the first fault."""
    allowed = frozenset(kinds)
    if not isinstance(data, list) or len(data) > MAX_FAMILIES:
        raise ValueError(f"families are not a list of at most {MAX_FAMILIES}")
    seen: set[str] = set()
    samples_total = 0
    for family in data:
        if not (isinstance(family, list) and len(family) == 4):
            raise ValueError("a family is not [name, type, help, samples]")
        name, kind, text, samples = family
        if not (isinstance(name, str) and METRIC_NAME.fullmatch(name)) or name in seen:
            raise ValueError(f"family name {str(name)[:100]!r} is not valid or repeated")
        seen.add(name)
        if kind not in allowed:
            raise ValueError(f"{name}: type {str(kind)[:20]!r} is not one of {sorted(allowed)}")
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise ValueError(f"{name}: help is not a string of at most {MAX_TEXT}")
        if not isinstance(samples, list):
            raise ValueError(f"{name}: samples are not a list")
        samples_total += len(samples)
        if samples_total > MAX_SAMPLES:
            raise ValueError(f"more than {MAX_SAMPLES} samples")
        for sample in samples:
            _check_sample(name, sample)
    return data


def to_metrics(families: Families) -> list[Metric]:
    """``families`` as ``prometheus_client`` metrics."""
    out = []
    for name, kind, text, samples in families:
        metric = Metric(name, text, kind)
        for sample_name, labels, value in samples:
            metric.add_sample(sample_name, labels, value)
        out.append(metric)
    return out
