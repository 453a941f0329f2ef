"""Generative models: the arrays, their validation, and ways to build them."""

from freeagentics.models._model import GenerativeModel, Labels
from freeagentics.models._policies import enumerate_policies

__all__ = ["GenerativeModel", "Labels", "enumerate_policies"]
