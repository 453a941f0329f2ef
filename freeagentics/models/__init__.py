"""Generative models: the arrays, their validation, and ways to build them."""

from freeagentics.models._gmn import parse_gmn
from freeagentics.models._gmn_compile import compile_gmn
from freeagentics.models._gmn_graph import GMNEdge, GMNGraph, GMNNode, GMNWarning
from freeagentics.models._gmn_json import parse_gmn_json
from freeagentics.models._limits import DEFAULT_MODEL_LIMITS, ModelLimits, check_model_size
from freeagentics.models._model import GenerativeModel, Labels
from freeagentics.models._names import ModelNames, model_names
from freeagentics.models._policies import enumerate_policies
from freeagentics.models._spec import compile_spec
from freeagentics.models._spec_export import spec_to_dict
from freeagentics.models._spec_io import load_spec, read_spec

__all__ = [
    "DEFAULT_MODEL_LIMITS",
    "GMNEdge",
    "GMNGraph",
    "GMNNode",
    "GMNWarning",
    "GenerativeModel",
    "Labels",
    "ModelLimits",
    "ModelNames",
    "check_model_size",
    "compile_gmn",
    "compile_spec",
    "enumerate_policies",
    "load_spec",
    "model_names",
    "parse_gmn",
    "parse_gmn_json",
    "read_spec",
    "spec_to_dict",
]
