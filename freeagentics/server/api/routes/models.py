"""Models: validate a named spec or GMN (text or JSON form), naming the first problem."""

from __future__ import annotations

from fastapi import APIRouter

from freeagentics.errors import ModelError, SpecError
from freeagentics.server.api.schemas import (
    ModelErrorOut,
    ModelSummary,
    ValidateModel,
    ValidationOut,
    error_responses,
)
from freeagentics.server.deps import ServiceDep, Viewer
from freeagentics.server.services import compile_model

__all__ = ["router"]

ERRORS = error_responses(401, 422)
router = APIRouter(prefix="/models", tags=["models"], responses=ERRORS)


@router.post("/validate", response_model=ValidationOut)
def validate(body: ValidateModel, service: ServiceDep, _: Viewer) -> ValidationOut:
    """``valid: true`` with the model's sizes, or ``valid: false`` naming the problem's path.

    A model over the server's size limits is refused (422 ``limit_exceeded``) before
    any of its arrays is allocated.
    """
    notes: list[str] = []
    limits = service.limits.model
    try:
        model = compile_model(
            body.spec, body.gmn, body.policy_len, on_warning=notes.append, limits=limits
        )
    except SpecError as exc:
        return ValidationOut(valid=False, error=ModelErrorOut(path=exc.path, message=str(exc)))
    except ModelError as exc:
        return ValidationOut(valid=False, error=ModelErrorOut(path=exc.array, message=str(exc)))
    summary = ModelSummary(
        num_states=list(model.num_states),
        num_obs=list(model.num_obs),
        num_controls=list(model.num_controls),
        num_policies=model.num_policies,
        policy_len=model.policy_len,
    )
    return ValidationOut(valid=True, summary=summary, warnings=notes)
