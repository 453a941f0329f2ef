"""Generative models: the arrays, their validation, and ways to build them."""

from __future__ import annotations

from freeagentics._lazy import lazy_names

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

# the names load with their modules on first use (see freeagentics._lazy): the limits
# need no numpy, so a process that checks settings against them but compiles no model
# (an API process) never loads it
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "parse_gmn": "._gmn",
        "compile_gmn": "._gmn_compile",
        "GMNEdge": "._gmn_graph",
        "GMNGraph": "._gmn_graph",
        "GMNNode": "._gmn_graph",
        "GMNWarning": "._gmn_graph",
        "parse_gmn_json": "._gmn_json",
        "DEFAULT_MODEL_LIMITS": "._limits",
        "ModelLimits": "._limits",
        "check_model_size": "._limits",
        "GenerativeModel": "._model",
        "Labels": "._model",
        "ModelNames": "._names",
        "model_names": "._names",
        "enumerate_policies": "._policies",
        "compile_spec": "._spec",
        "spec_to_dict": "._spec_export",
        "load_spec": "._spec_io",
        "read_spec": "._spec_io",
    },
)
