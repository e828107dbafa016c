"""The error hierarchy and the handlers that render every error as the RealWorld envelope.

Every error a client sees has the shape ``{"errors": {"<field or 'body'>": ["message", …]}}``.
FastAPI's default ``{"detail": …}`` never reaches a client.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import sqlite3
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

log = logging.getLogger(__name__)


class AppError(Exception):
    """An error the client caused or should know about; services raise these."""

    status_code = 400

    def __init__(self, message: str, *, field: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Invalid(AppError):
    """Input that is well-formed but breaks a rule (a taken username, say)."""

    status_code = 422


class ServiceUnavailable(AppError):
    status_code = 503


def envelope(errors: Mapping[str, Sequence[str]]) -> dict[str, dict[str, list[str]]]:
    return {"errors": {field: list(messages) for field, messages in errors.items()}}


def error_response(
    status_code: int, errors: Mapping[str, Sequence[str]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(envelope(errors), status_code=status_code, headers=dict(headers or {}))


def _field_of(loc: Sequence[str | int], error_type: str) -> str:
    """The client-facing field for a validation error location.

    ``("body", "user", "email")`` → ``email``; ``("query", "limit")`` → ``limit``;
    malformed JSON or a missing envelope → ``body``.
    """
    if error_type == "json_invalid":
        return "body"
    names = [str(part) for part in loc[1:] if isinstance(part, str)]
    if loc and loc[0] == "body":
        # Skip the envelope key ("user", "article", …): clients name the inner field.
        names = names[1:] if len(names) > 1 else []
    return names[-1] if names else "body"


def _message_of(error: Mapping[str, Any]) -> str:
    error_type = error.get("type", "")
    if error_type == "missing":
        return "can't be blank"
    if error_type == "json_invalid":
        return "is not valid JSON"
    if error_type in ("model_attributes_type", "dict_type") and error.get("loc") == ("body",):
        return "must be a JSON object"
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        field = _field_of(tuple(error.get("loc", ())), str(error.get("type", "")))
        message = _message_of(error)
        if message not in fields.setdefault(field, []):
            fields[field].append(message)
    return fields


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Token"} if exc.status_code == 401 else None
    return error_response(exc.status_code, {exc.field: [exc.message]}, headers)


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, validation_errors(exc.errors()))


# What FastAPI answers (400) when a JSON body cannot be decoded at all: bytes that are not
# UTF-8, or nesting deeper than the parser's recursion. Malformed JSON is a 422 elsewhere.
_UNPARSABLE_BODY = "There was an error parsing the body"


_METHOD_TABLES: weakref.WeakKeyDictionary[Any, list[tuple[re.Pattern[str], frozenset[str]]]] = (
    weakref.WeakKeyDictionary()
)


def _method_table(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    table = _METHOD_TABLES.get(app)
    if table is None:
        table = [
            (compile_path(context.path_format)[0], frozenset(methods))
            for context in fastapi.routing.iter_route_contexts(app.routes)
            if context.path_format and (methods := getattr(context.original_route, "methods", None))
        ]
        _METHOD_TABLES[app] = table
    return table


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, not only the first route's.

    Starlette's 405 names the methods of the first route that matched the path; with
    ``GET`` and ``POST`` on separate routes, ``Allow`` would leave one out.
    """
    path = request.scope.get("path", "")
    methods: set[str] = set()
    for pattern, route_methods in _method_table(request.app):
        if pattern.match(path):
            methods |= route_methods
    return ", ".join(sorted(methods))


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
        return error_response(422, {"body": ["is not valid JSON"]})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    return error_response(exc.status_code, {"body": [str(exc.detail)]}, headers)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503, {"database": ["is unavailable, try again shortly"]}, {"Retry-After": "5"}
    )


def internal_error() -> JSONResponse:
    """The answer to a bug: says nothing about it (the log has the traceback)."""
    return error_response(500, {"body": ["internal server error"]})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error during %s %s", request.method, request.url.path, exc_info=exc)
    return internal_error()


_UNREACHABLE = frozenset({errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH, errno.EHOSTDOWN})


async def _os_error(request: Request, exc: Exception) -> JSONResponse:
    """A database that refuses, times out, does not resolve or has no route is unavailable
    (503); any other OSError is a bug (500)."""
    assert isinstance(exc, OSError)
    if (
        isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror))
        or exc.errno in _UNREACHABLE
    ):
        return await _database_unavailable(request, exc)
    return await _unexpected(request, exc)


# PostgreSQL's SQLSTATE class 53, insufficient resources: disk full, out of memory, too
# many connections. The server's trouble, not the request's.
_INSUFFICIENT_RESOURCES = "53"
_DISK_FULL = "53100"
FULL_RETRY_AFTER_SECONDS = 60  # space is freed by an operator, not in a few seconds


def _is_full(exc: DBAPIError) -> bool:
    """The database has no room left for the write: SQLite's SQLITE_FULL (its disk, or
    ``max_page_count``) or PostgreSQL's disk_full."""
    driver_error = exc.orig
    if getattr(driver_error, "sqlstate", None) == _DISK_FULL:
        return True
    return isinstance(driver_error, sqlite3.Error) and (
        driver_error.sqlite_errorcode == sqlite3.SQLITE_FULL
        or "database or disk is full" in str(driver_error)
    )


async def _database_full(request: Request, exc: Exception) -> JSONResponse:
    # An error, not a warning: only an operator can free the space.
    log.error("database full during %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        {"database": ["is full, try again later"]},
        {"Retry-After": str(FULL_RETRY_AFTER_SECONDS)},
    )


async def _dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    """Connection trouble and a database out of room are 503s; anything else from the
    driver is a bug (500).

    An error with no statement was raised while connecting (say, the database does not
    exist yet): the service is unavailable, not broken by this request.
    """
    assert isinstance(exc, DBAPIError)
    if _is_full(exc):
        return await _database_full(request, exc)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    if (
        exc.connection_invalidated
        or exc.statement is None
        or isinstance(exc, (OperationalError, InterfaceError))
        or sqlstate.startswith(_INSUFFICIENT_RESOURCES)
    ):
        return await _database_unavailable(request, exc)
    return await _unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(DBAPIError, _dbapi_error)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(Exception, _unexpected)
