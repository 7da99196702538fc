"""Jobs that exist to check the error path: they raise in the worker on purpose."""
import logging

log = logging.getLogger(__name__)


class WorkerSentryTestError(Exception):
    """Raised by the worker test job; seeing it in Sentry proves worker reporting works."""


def raise_test_error(label: str = "sentry-test") -> None:
    raise WorkerSentryTestError(f"Worker {label} error - this is intentional for testing error tracking")


def sentry_check(check_id: str) -> dict:
    """`flask sentry-check`'s worker side: one test error through this worker's Sentry client.

    Returns Sentry's answer (HTTP status or the reason there was none) as the job result,
    instead of raising, so the command can print it and no failed job is left behind.
    """
    from chatcenter.observability.sentry_check import send_test_event

    outcome = send_test_event("worker", check_id)
    log.info("sentry-check from the worker: %s", outcome.describe())
    return outcome.as_dict()
