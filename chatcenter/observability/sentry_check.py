"""`flask --app chatcenter sentry-check`: does Sentry accept events from here and from a worker?

Each side captures one test error through its own, real Sentry client (DSN, environment,
release, tags and privacy filters exactly as configured in that process) and reads the
HTTP status Sentry answered. To see that status, the client's transport is swapped for
a RecordingTransport for the duration of the check: an HttpTransport (same options, same
HTTP code) that also notes each envelope's answer. The worker side runs as an RQ job,
jobs.diagnostics.sentry_check, and returns its outcome as the job's result.

Nothing here imports sentry_sdk unless the process already has it (Sentry on).
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, fields
from urllib.parse import urlsplit

from chatcenter.observability.sentry import active_sdk
from chatcenter.queues import DEFAULT, queue

CHECK_JOB = "jobs.diagnostics.sentry_check"
SEND_TIMEOUT = 10.0  # seconds for one HTTP round trip to Sentry (sentry-sdk's own is 30)
FLUSH_TIMEOUT = SEND_TIMEOUT + 2.0
POLL_SECONDS = 0.2


class SentryCheckError(Exception):
    """The test error; finding it in Sentry proves reporting works end to end."""


@dataclass
class Outcome:
    status: int | None = None  # the HTTP status Sentry answered
    error: str | None = None  # why there is no answer
    event_id: str | None = None
    environment: str | None = None
    release: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        event = f", event {self.event_id}" if self.event_id else ""
        if self.accepted:
            return f"accepted by Sentry (HTTP {self.status}){event}"
        if self.status is not None:
            return f"REJECTED by Sentry (HTTP {self.status}: {_status_hint(self.status)}){event}"
        return f"NOT delivered: {self.error}"

    def as_dict(self) -> dict:
        return asdict(self)


def _status_hint(status: int) -> str:
    if status in (401, 403):
        return "the DSN's key is wrong, revoked or of another project"
    if status == 429:
        return "rate limited or the quota is used up"
    if status == 413:
        return "event too large"
    if status >= 500:
        return "Sentry server error, try again later"
    return "unexpected answer"


# ------------------------------------------------------------------------ sending side


def _recording_transport(options: dict):
    from sentry_sdk.transport import HttpTransport  # only ever called with Sentry on

    class RecordingTransport(HttpTransport):
        TIMEOUT = SEND_TIMEOUT

        def __init__(self, opts):
            super().__init__(opts)
            self.answers: dict[str, tuple[int | None, str | None]] = {}
            self._cond = threading.Condition()

        def _send_request(self, body, headers, endpoint_type, envelope=None):
            try:
                super()._send_request(body, headers, endpoint_type, envelope)
            except Exception as exc:  # no answer at all: refused, DNS, TLS, timeout
                self._note(envelope, None, _reason(exc))
                raise

        def _handle_response(self, response, envelope):
            self._note(envelope, response.status, None)
            super()._handle_response(response, envelope)

        def _note(self, envelope, status, error):
            event_id = envelope.headers.get("event_id") if envelope is not None else None
            if event_id:  # client reports carry none and are not ours to judge
                with self._cond:
                    self.answers[event_id] = (status, error)
                    self._cond.notify_all()

        def wait_for(self, event_id: str, timeout: float):
            with self._cond:
                self._cond.wait_for(lambda: event_id in self.answers, timeout=timeout)
                return self.answers.get(event_id)

    return RecordingTransport(options)


def _reason(exc: BaseException) -> str:
    """A short cause for an operator, without URLs or object addresses."""
    chain = [exc]
    while len(chain) < 10:
        nxt = getattr(chain[-1], "reason", None) or chain[-1].__cause__ or chain[-1].__context__
        if not isinstance(nxt, BaseException) or nxt in chain:
            break
        chain.append(nxt)
    text = " ".join(str(e) for e in chain)
    for needle, reason in (("Connection refused", "connection refused"),
                           ("Name or service not known", "host name not found"),
                           ("nodename nor servname", "host name not found"),
                           ("timed out", "timed out"),
                           ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted")):
        if needle in text:
            return f"{reason} ({type(chain[-1]).__name__})"
    return type(chain[-1]).__name__


def server_of(dsn: str) -> str:
    """scheme://host[:port] and project of a DSN, never its key."""
    parts = urlsplit(dsn)
    port = f":{parts.port}" if parts.port else ""
    project = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.scheme}://{parts.hostname}{port} (project {project})"


def _raise_test_error(where: str, check_id: str) -> None:
    raise SentryCheckError(
        f"chatcenter sentry-check: test event from the {where} (check {check_id}) - this is intentional")


def send_test_event(where: str, check_id: str) -> Outcome:
    """Capture one test error with this process's Sentry client; return Sentry's answer."""
    sdk = active_sdk()
    if sdk is None:
        return Outcome(error=f"Sentry is off in the {where} (SENTRY_DSN is empty there)")
    client = sdk.get_client()
    outcome = Outcome(environment=client.options.get("environment"), release=client.options.get("release"))
    recorder = _recording_transport(client.options)
    original, client.transport = client.transport, recorder
    try:
        with sdk.new_scope() as scope:
            scope.set_tag("sentry_check", check_id)
            if where == "command line":
                scope.set_tag("component", "cli")
            try:
                _raise_test_error(where, check_id)
            except SentryCheckError as exc:
                outcome.event_id = sdk.capture_exception(exc)
        if outcome.event_id is None:
            outcome.error = "the event was dropped before sending (before_send, ignore_errors or sample_rate)"
            return outcome
        client.flush(timeout=FLUSH_TIMEOUT)
        answer = recorder.wait_for(outcome.event_id, timeout=0.5)
        if answer is None:
            outcome.error = f"no answer from Sentry within {FLUSH_TIMEOUT:g} s"
        else:
            outcome.status, outcome.error = answer
        return outcome
    finally:
        client.transport = original
        recorder.kill()


# ------------------------------------------------------------------------- worker side


def check_through_worker(redis, check_id: str, pickup_timeout: float) -> Outcome:
    """Enqueue the check job and wait, bounded, for a worker to run it."""
    try:
        job = queue(redis, DEFAULT).enqueue(
            CHECK_JOB, check_id, job_id=f"sentry-check-{check_id}", description="sentry_check",
            job_timeout=int(FLUSH_TIMEOUT * 2), ttl=max(1, int(pickup_timeout) + 5),
            result_ttl=600, failure_ttl=24 * 3600)
    except Exception as exc:  # Redis down or refusing: the URL may hold a password, not shown
        return Outcome(error=f"could not enqueue the test job: Redis error {type(exc).__name__}")

    try:
        return _wait_for(job, pickup_timeout, DEFAULT)
    except Exception as exc:  # Redis went away while waiting
        return Outcome(error=f"lost Redis while waiting for the test job: {type(exc).__name__}")


def _wait_for(job, pickup_timeout: float, queue_name: str) -> Outcome:
    from rq.job import JobStatus

    waiting = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
    deadline = time.monotonic() + pickup_timeout
    while (status := job.get_status()) in waiting:
        if time.monotonic() >= deadline:
            job.delete()  # not to run later, long after the operator gave up
            return Outcome(error=(f"no worker picked up the test job within {pickup_timeout:g} s "
                                  f"(is `python worker.py` running for queue '{queue_name}' on this Redis?)"))
        time.sleep(POLL_SECONDS)

    deadline = time.monotonic() + FLUSH_TIMEOUT * 2 + 5
    while status == JobStatus.STARTED and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        status = job.get_status()
    if status == JobStatus.FINISHED:
        result = job.return_value() or {}
        return Outcome(**{f.name: result.get(f.name) for f in fields(Outcome)})
    if status == JobStatus.FAILED:
        result = job.latest_result()
        last = (result.exc_string or "").strip().splitlines()[-1:] if result else []
        return Outcome(error=f"the test job failed in the worker: {last[0][:200] if last else 'no details'}")
    return Outcome(error=f"the test job did not finish in time (status: {status})")
