"""Sentry's part in a job that a forked work-horse runs: paid for only where it gives back.

sentry-sdk's RqIntegration wraps every job in a new scope, a continued trace and a
transaction, and flushes at the end. In a work-horse each of those first writes to
hundreds of memory pages it shares with the worker it was forked from, and every such
page is copied: about 2 ms per job, a tenth of a no-op job (bench/worker_throughput.py).
A job whose trace is not sampled gains nothing from that unless it fails. So in a
work-horse the wrapper is not used: job_tracing gives the job its trace and what the
wrapper gives its reports, and decides before any transaction is started
(head_sampling): a job in a sampled trace runs in a transaction started through the SDK,
as the wrapper's was, reporting the configured rate; any other job runs bare.

RqIntegration still reports the failure itself (its `handle_exception`). Its cron
check-ins (`monitor_cron_jobs`) are not used here; a bare job would skip them. Importable
with Sentry off: sentry_sdk is only imported (by job_tracing) when it is on.
"""
from __future__ import annotations

from typing import Any, Callable

from rq.job import Job

from chatcenter.observability.sentry import active_sdk, queued_in_this_process


def integration_perform_job(perform_job) -> Callable | None:
    """RQ's own perform_job inside RqIntegration's wrapper (given the bound method the
    worker would call), or None when it is not wrapped."""
    wrapper = getattr(perform_job, "__func__", perform_job)
    if wrapper.__code__.co_name != "sentry_patched_perform_job":
        return None
    return getattr(wrapper, "__wrapped__", None)


def perform_job(worker, job: Job, queue, wrapped, *args: Any, **kwargs: Any) -> bool:
    """Run `job` through `wrapped` (the worker's perform_job, RqIntegration's wrapper when
    Sentry is on) or, in a forked work-horse with Sentry on, through RQ's own perform_job
    with the job's trace, and a transaction when that trace is sampled."""
    sdk = active_sdk()
    plain = integration_perform_job(wrapped) if sdk is not None and worker.is_horse else None
    if plain is None:
        return wrapped(job, queue, *args, **kwargs)
    from chatcenter.observability import job_tracing  # imported before forking: found at once

    transaction = job_tracing.start(sdk, job, queue)
    try:
        if transaction is None:
            return plain(worker, job, queue, *args, **kwargs)
        with transaction:
            return plain(worker, job, queue, *args, **kwargs)
    finally:
        # RQ ends the work-horse with os._exit: send what the job queued, if anything.
        # (The SDK's log, metric and session buffers stay empty: this app uses none.)
        client = sdk.get_client()
        if queued_in_this_process(client.transport) is not False:
            client.flush()
