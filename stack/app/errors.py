"""The app's one error shape, ``{"code", "message", "detail"}``, for its own errors and the framework's.

FastAPI/Starlette answer unknown paths, wrong methods, invalid bodies and crashes with
shapes of their own (``{"detail": ...}`` or plain text), and their 422 echoes the submitted
values back, a password among them. The handlers here give every error the same shape and
never echo input.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import Request

log = logging.getLogger("app.api")

VALIDATION_MESSAGE = "request validation failed"


class ApiError(Exception):
    """An error answer: ``{"code", "message", "detail"}`` with an HTTP status."""

    def __init__(self, status: int, message: str, *, code: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code if code is not None else status
        self.headers = headers


def error_body(code: int, message: str, detail: object = None) -> dict[str, object]:
    """The shape every error answer has; ``detail`` defaults to the message."""
    return {"code": code, "message": message, "detail": message if detail is None else detail}


def api_error_response(_request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)


def http_error_response(_request: Request, exc: HTTPException) -> Response:
    """Starlette's own 404 (unknown path) and 405 (wrong method, with its Allow header), and any HTTPException."""
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "error"
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    detail = None if isinstance(exc.detail, str) else exc.detail
    return JSONResponse(error_body(exc.status_code, message, detail), status_code=exc.status_code, headers=exc.headers)


def validation_error_response(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 saying where and why each field failed, without the submitted values (``input``, ``ctx``)."""
    fields = [
        {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}
        for error in exc.errors()
    ]
    return JSONResponse(error_body(422, VALIDATION_MESSAGE, fields), status_code=422)


def internal_error_response(_request: Request, _exc: Exception) -> JSONResponse:
    """A crash: the shape, no traceback (uvicorn still logs the exception)."""
    return JSONResponse(error_body(500, "internal server error"), status_code=500)
