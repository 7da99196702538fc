"""A job's trace in a forked work-horse, and a transaction only when that trace is sampled.

What RqIntegration's per-job wrapper would give a job (see job_sentry for why it is not
used in a work-horse), on the work-horse's own scopes: it lives for this one job, so they
are the job's. Imported by the worker before it forks (work_out_before_forking), so no
work-horse imports it anew; only when Sentry is on.
"""
from __future__ import annotations

import weakref
from types import ModuleType

from rq.job import Job
from sentry_sdk.consts import OP, SPANDATA
# Private, but what the wrapper itself adds: tests/test_dependencies.py checks it is there.
from sentry_sdk.integrations.rq import RqIntegration, _make_event_processor
from sentry_sdk.tracing import Transaction, TransactionSource
from sentry_sdk.utils import capture_internal_exceptions

from chatcenter.observability import head_sampling

TRACE_HEADERS = "_sentry_trace_headers"  # where RqIntegration puts the enqueuer's trace in job.meta


def start(sdk: ModuleType, job: Job, queue) -> Transaction | None:
    """Give `job` its trace and context; return its started transaction when sampled.
    Whatever fails here costs the job its trace, never its run (as in the SDK's wrapper)."""
    with capture_internal_exceptions():
        give_job_context(sdk, job)
        return start_if_sampled(job, queue)
    return None


def give_job_context(sdk: ModuleType, job: Job) -> None:
    """What the wrapper gives every report made during a job: the job's details and name,
    and the enqueuer's trace (as continue_trace() does, less the transaction) or a new one."""
    sdk.get_isolation_scope().generate_propagation_context(job.meta.get(TRACE_HEADERS) or {})
    scope = sdk.get_current_scope()
    scope.set_transaction_name(job.func_name, source=TransactionSource.TASK)
    scope.add_event_processor(_make_event_processor(weakref.ref(job)))


def start_if_sampled(job: Job, queue) -> Transaction | None:
    """The job's transaction, as the wrapper's, started when its trace is sampled. A job
    enqueued in a trace follows its decision and passes it on (an unsent transaction is
    its span); a job enqueued outside any trace (by cron, or by a job not traced) heads one
    of its own, and when that is not sampled nothing is built: the jobs it enqueues decide
    for themselves."""
    fields = {"op": OP.QUEUE_TASK_RQ, "name": job.func_name, "source": TransactionSource.TASK,
              "origin": RqIntegration.origin}
    if job.meta.get(TRACE_HEADERS):
        transaction = head_sampling.start_if_sampled({"rq_job": job}, **fields)
    else:
        transaction = head_sampling.start_head_if_sampled({"rq_job": job}, **fields)
    if transaction is not None:
        transaction.set_data(SPANDATA.MESSAGING_DESTINATION_NAME, queue.name)
    return transaction
