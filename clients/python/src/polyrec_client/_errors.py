"""The errors the client raises: every error answer of the server as a `PolyrecError`."""

from __future__ import annotations

import json
from typing import Any

from .models import ErrorBody, FieldError


class PolyrecError(Exception):
    """An error answer of the server (4xx/5xx), or a request that never got one.

    `code` is the server's stable, machine-readable code (`invalid_config`, `not_found`,
    `rate_limited`, ...; see `ErrorBody` in `polyrec_client.models`), or `network_error` /
    `timeout` when no answer came. `errors` lists the field errors of a validation answer, each
    with the JSON path of the value to fix.
    """

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        *,
        errors: list[FieldError] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: ErrorBody | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors: list[FieldError] = errors or []
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (the server sends whole seconds; an HTTP date is not used)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def error_from_answer(status: int, headers: Any, text: str) -> PolyrecError:
    """The `PolyrecError` of an error answer: its `ErrorBody` when it has one."""
    request_id = headers.get("x-request-id")
    retry_after = retry_after_seconds(headers.get("retry-after"))
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return PolyrecError(
            status,
            body["code"],
            str(body.get("message", "")),
            errors=body.get("errors") or [],
            request_id=request_id,
            retry_after=retry_after,
            body=body,
        )
    return PolyrecError(
        status,
        f"http_{status}",
        text[:500] or "the server answered without a body",
        request_id=request_id,
        retry_after=retry_after,
    )
