"""What can go wrong with a request, said once: each exception carries the HTTP status that
answers it, whether trying again later may succeed (`transient`, read by the worker and the
CLI as well) and a message written for the client (no secret, no buyer text).

Domain code raises these; the web answers them in one place (chatcenter/web/errors.py): JSON
`{"detail": ...}` for the API, an error page for the inbox. They are expected outcomes, not
faults of ours, so they never reach Sentry.
"""
from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be done as asked; `detail` is the client's explanation."""

    status = 500
    transient = False

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra  # more fields for the JSON answer (e.g. the pending job's id)

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadInput(ServiceError, ValueError):
    """A parameter, header or field (named first in the detail) that cannot be used."""

    status = 400

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class Forbidden(ServiceError):
    """The client is known but may not do this at all (a read-only API key asking for a
    change). Never used for a thing outside the client's sellers: that is NotFound."""

    status = 403


class NotFound(ServiceError, LookupError):
    """No such thing, or not one this client may see. `what` and `ident` let the inbox word it
    in the operator's language."""

    status = 404

    def __init__(self, detail: str, *, what: str | None = None, ident: int | str | None = None):
        super().__init__(detail)
        self.what, self.ident = what, ident

    @classmethod
    def of(cls, what: str, ident: int | str) -> "NotFound":
        return cls(f"{what} {ident} does not exist", what=what, ident=ident)


class Conflict(ServiceError):
    """The request clashes with the state of things (a job already pending, a feature off)."""

    status = 409


class Unprocessable(ServiceError):
    """Well-formed, but it contradicts an earlier request (an Idempotency-Key reused)."""

    status = 422


class Unavailable(ServiceError):
    """A service we need (Redis, the database) is away: the same request may work shortly."""

    status = 503
    transient = True
    retry_after = 5  # seconds: restarts of Redis or PostgreSQL are quick

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class DatabaseUnavailable(Unavailable):
    def __init__(self, cause: BaseException):
        super().__init__("The database is unavailable; try again in a few seconds")
        self.cause_name = type(cause).__name__
