"""Exception handlers: every error is JSON ``{"detail", "type", "errors"}`` naming the problem.

Bad input is always a 4xx: unknown ids 404, invalid models/specs/options 422 (a resource
limit exceeded: 422 ``limit_exceeded`` with the setting's name in ``errors[0].limit``), malformed
JSON 400, conflicts with the current state 409, authentication 401/403. A simulation host
that does not answer (restarting, or gone) is a 503 ``host_unavailable`` saying which; a
call to it that missed its deadline (``host_call_timeout_seconds``) is a 504
``host_timeout`` naming the method and the deadline (``errors[0]``), and saying that the
call may still complete on the host.
Only a genuine bug is a 500, and its body gives nothing away.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from freeagentics.errors import (
    ConfigurationError,
    ConflictError,
    FreeAgenticsError,
    LimitError,
    ModelError,
    ObservationError,
    SpecError,
    UnknownIdError,
)
from freeagentics.hosts import HostTimeoutError, HostUnavailableError
from freeagentics.server.auth import AuthError
from freeagentics.simulation.scenario import ScenarioError, scenario_problems

__all__ = ["error_response", "install_exception_handlers"]

log = logging.getLogger("freeagentics.server")


def error_response(
    status: int,
    detail: str,
    kind: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON body every error of the API has."""
    body: dict[str, Any] = {"detail": detail, "type": kind}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _place(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
        for e in exc.errors()
    ]
    if any(p["type"] == "json_invalid" for p in problems):
        first = next(e for e in exc.errors() if e.get("type") == "json_invalid")
        reason = first.get("ctx", {}).get("error", "invalid JSON")
        where = first.get("loc", ("body", 0))[-1]
        return error_response(
            400, f"body: malformed JSON at character {where}: {reason}", "malformed_json"
        )
    problems = _scenario_in_its_own_words(exc.errors(), problems)
    first = problems[0] if problems else {"loc": [], "msg": "invalid request"}
    detail = f"{_place(first['loc'])}: {first['msg']}"
    if len(problems) > 1:
        detail += f" (and {len(problems) - 1} more)"
    return error_response(422, detail, "validation_error", problems)


def _scenario_in_its_own_words(
    errors: list[dict[str, Any]], problems: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Mistakes in a request's ``scenario`` worded as scenario files word them."""
    root = ("body", "scenario")
    inside = [
        {**e, "loc": tuple(e["loc"])[2:]} for e in errors if tuple(e.get("loc", ()))[:2] == root
    ]
    if not inside:
        return problems
    others = [p for p in problems if tuple(p["loc"])[:2] != root]
    worded = []
    for message in scenario_problems(inside):
        place, _, text = message.partition(": ")
        loc = ["body", "scenario", *([] if place == "top level" else [place])]
        worded.append({"loc": loc, "msg": text, "type": "scenario"})
    return worded + others


def _auth(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    kind = "unauthenticated" if exc.status == 401 else "forbidden"
    return error_response(exc.status, exc.message, kind, headers=headers)


def _domain(request: Request, exc: Exception) -> JSONResponse:
    message = str(exc)
    if isinstance(exc, UnknownIdError):
        return error_response(404, message, "not_found")
    if isinstance(exc, ConflictError):
        return error_response(409, message, "conflict")
    if isinstance(exc, SpecError):
        return error_response(422, message, "spec_error", [{"path": exc.path, "msg": message}])
    if isinstance(exc, LimitError):
        problem = [{"limit": exc.limit, "msg": message}]
        return error_response(422, message, "limit_exceeded", problem)
    if isinstance(exc, ModelError):
        place = {"array": exc.array, "index": list(exc.index) if exc.index else None}
        return error_response(422, message, "model_error", [{**place, "msg": message}])
    if isinstance(exc, ScenarioError):
        problems = [{"loc": ["body", "scenario"], "msg": p} for p in exc.problems]
        return error_response(422, message, "invalid_value", problems)
    if isinstance(exc, ConfigurationError | ObservationError):
        return error_response(422, message, "invalid_value")
    return error_response(400, message, "bad_request")


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}
    return error_response(
        exc.status_code,
        str(exc.detail),
        kinds.get(exc.status_code, "http_error"),
        headers=getattr(exc, "headers", None),
    )


def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, str(exc), "host_unavailable", headers={"Retry-After": "5"})


def _timeout(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HostTimeoutError)
    problem = [{"method": exc.method, "timeout_s": exc.timeout_s, "msg": str(exc)}]
    return error_response(504, str(exc), "host_timeout", problem)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error", "internal_error")


def install_exception_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(AuthError, _auth)
    app.add_exception_handler(FreeAgenticsError, _domain)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(HostUnavailableError, _unavailable)
    app.add_exception_handler(HostTimeoutError, _timeout)  # the nearest class's handler wins
    app.add_exception_handler(Exception, _unexpected)
