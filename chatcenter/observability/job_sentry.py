"""Sentry's part in a job that a forked work-horse runs: paid for only where it gives back.

sentry-sdk's RqIntegration wraps every job in a new scope, a continued trace and a
transaction, and flushes at the end. In a work-horse each of those first writes to
hundreds of memory pages it shares with the worker it was forked from, and every such
page is copied: about 2 ms per job, a tenth of a no-op job (bench/worker_throughput.py).
A job whose trace is not sampled gains nothing from that unless it fails. So here:

- the trace decision is made once per job, by the same sampler sentry-sdk asks;
- a sampled job runs inside RqIntegration's wrapper, transaction and all;
- any other job runs bare, with what the wrapper would have given its reports (the job's
  details, the enqueuer's trace id, the job's name) set on the work-horse's own scopes.

RqIntegration still reports the failure itself (its `handle_exception`) and still carries
the enqueuer's trace into the job. Its cron check-ins (`monitor_cron_jobs`) are not used
here; a bare job would skip them.
"""
from __future__ import annotations

import random
import weakref
from typing import Any, Callable

from rq.job import Job

from chatcenter.observability.sentry import JOB_TRACED, active_sdk, queued_in_this_process

TRACE_HEADERS = "_sentry_trace_headers"  # where RqIntegration puts the enqueuer's trace in job.meta


def integration_perform_job(perform_job) -> Callable | None:
    """RQ's own perform_job inside RqIntegration's wrapper (given the bound method the
    worker would call), or None when it is not wrapped."""
    wrapper = getattr(perform_job, "__func__", perform_job)
    if wrapper.__code__.co_name != "sentry_patched_perform_job":
        return None
    return getattr(wrapper, "__wrapped__", None)


def perform_job(worker, job: Job, queue, wrapped, *args: Any, **kwargs: Any) -> bool:
    """Run `job` through `wrapped` (the worker's perform_job, RqIntegration's wrapper when
    Sentry is on), or bare when it need not pay for the wrapper: a forked work-horse (its
    own process: nothing to isolate), Sentry on, the trace not sampled."""
    sdk = active_sdk()
    plain = integration_perform_job(wrapped) if sdk is not None and worker.is_horse else None
    if plain is None:
        return wrapped(job, queue, *args, **kwargs)
    traced = _decide_trace(sdk, job)
    setattr(job, JOB_TRACED, traced)
    if traced:
        return wrapped(job, queue, *args, **kwargs)
    _give_job_context(sdk, job)
    try:
        return plain(worker, job, queue, *args, **kwargs)
    finally:
        # RQ ends the work-horse with os._exit: send what the job queued, if anything.
        # (The SDK's log, metric and session buffers stay empty: this app uses none.)
        client = sdk.get_client()
        if queued_in_this_process(client.transport) is not False:
            client.flush()


def _decide_trace(sdk, job: Job) -> bool:
    sampler = sdk.get_client().options.get("traces_sampler")
    if sampler is None:  # tracing is off (see init_sentry): no job is traced
        return False
    from sentry_sdk.tracing_utils import extract_sentrytrace_data

    header = (job.meta.get(TRACE_HEADERS) or {}).get("sentry-trace")
    parent = (extract_sentrytrace_data(header) or {}).get("parent_sampled") if header else None
    # random, not the SDK's sample_rand: RQ reseeds it in every work-horse.
    return random.random() < float(sampler({"rq_job": job, "parent_sampled": parent}))


def _give_job_context(sdk, job: Job) -> None:
    """What RqIntegration's wrapper gives every report made during a job (the job's
    details and name, the enqueuer's trace), without the wrapper's new scope and
    transaction: the work-horse lives for this one job, so its scopes are the job's."""
    # Private, but what the wrapper itself adds: tests/test_dependencies.py checks it is there.
    from sentry_sdk.integrations.rq import _make_event_processor

    # As continue_trace() does, less the transaction: the enqueuer's trace, or a new one.
    sdk.get_isolation_scope().generate_propagation_context(job.meta.get(TRACE_HEADERS) or {})
    scope = sdk.get_current_scope()
    scope.set_transaction_name(job.func_name, source="task")
    scope.add_event_processor(_make_event_processor(weakref.ref(job)))
