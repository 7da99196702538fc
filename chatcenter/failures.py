"""How work fails: transient faults are tried again, permanent ones end at once.

An exception says which it is with a `transient` class attribute (True: a later attempt
may succeed). The worker reads it to end a job's retries (chatcenter.job_rules), the CLI
to choose exit status 75 or 1, the web API to answer 503 or 4xx/500.
"""
from __future__ import annotations


def is_transient(exc: BaseException) -> bool:
    return bool(getattr(exc, "transient", False))


class PermanentJobError(Exception):
    """Retrying cannot help (a missing row, a refused token, bad configuration)."""

    transient = False


class TransientJobError(Exception):
    """A later attempt may succeed (a service away, a busy subject)."""

    transient = True


def is_expected(exc: BaseException | None) -> bool:
    """A failure this code foresaw (WB or DeepSeek refusing, a service away), as opposed to
    a bug: classified by a `transient` attribute, or a dependency not answering (Redis,
    the database, a socket). Workers log these in one line, without a traceback."""
    if exc is None:
        return False
    if getattr(exc, "transient", None) is not None:
        return True
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeout
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, (RedisConnectionError, RedisTimeout, OperationalError, ConnectionError, TimeoutError))
