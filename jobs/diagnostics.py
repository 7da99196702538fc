"""Jobs that exist to check the error path: they raise in the worker on purpose."""


class WorkerSentryTestError(Exception):
    """Raised by the worker test job; seeing it in Sentry proves worker reporting works."""


def raise_test_error(label: str = "sentry-test") -> None:
    raise WorkerSentryTestError(f"Worker {label} error - this is intentional for testing error tracking")
