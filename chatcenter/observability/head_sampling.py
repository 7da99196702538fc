"""sentry-sdk's own sampling decision for a transaction, made before paying for one.

The SDK starts a transaction, asks the traces sampler for a rate, and keeps the
transaction when its trace's sample_rand (carried by the caller, or derived from the trace
id) is under that rate. Here that roll is made first, on a Transaction object built from
the current trace (the isolation scope's propagation context). Only a sampled transaction
is started, through the SDK: it asks the sampler again, agrees, and the transaction reports
the configured rate, which Sentry extrapolates counts from. An unsampled one is never
started nor sent: it becomes the scope's span, so jobs enqueued under it carry its trace
marked not sampled (one trace, one decision) and its errors are in its trace.

Work that heads a new trace and has no one to pass an unsampled trace on to can skip even
that object: start_head_if_sampled rolls a fresh random number first and builds a
transaction only when it is under the rate, giving it that number as its sample_rand.

Used by web requests (web_tracing) and by jobs in a forked work-horse (job_sentry). Relies
on the Transaction's private `_sample_rand`: tests/test_dependencies.py fails if an
upgrade moves it or rolls otherwise. Imported only when Sentry is on.
"""
from __future__ import annotations

import random
from typing import Any

import sentry_sdk
from sentry_sdk.tracing import Transaction


def start_if_sampled(sampling_context: dict, **fields: Any) -> Transaction | None:
    """The current trace's transaction (`fields`: op, name, source, origin), started
    through the SDK when the trace is sampled: the caller enters and exits it. None when it
    is not sampled, or when tracing is off."""
    context = sentry_sdk.get_isolation_scope().get_active_propagation_context()
    rate = _rate(sampling_context, context.parent_sampled)
    if rate is None:  # tracing is off (see init_sentry): the trace is all there is
        return None
    if not rate and context.parent_span_id is None:  # the head of a trace no one will see
        return None  # (a health probe): nothing to trace, nothing for its jobs to carry
    transaction = Transaction(
        baggage=context.baggage, parent_sampled=context.parent_sampled, trace_id=context.trace_id,
        parent_span_id=context.parent_span_id, same_process_as_parent=False, **fields)
    if transaction._sample_rand >= rate:  # the SDK's own roll (its backpressure only lowers rates)
        transaction.sampled, transaction.sample_rate = False, rate
        _count_dropped()
    else:
        transaction = sentry_sdk.start_transaction(transaction, custom_sampling_context=sampling_context)
    if transaction.sampled:
        return transaction
    sentry_sdk.get_current_scope().span = transaction  # the request's or job's own scope
    return None


def start_head_if_sampled(sampling_context: dict, **fields: Any) -> Transaction | None:
    """A new trace's transaction, started through the SDK when it is sampled; None when it
    is not (nothing is built: in a forked work-horse the unsampled Transaction object of
    start_if_sampled costs 0.4 ms, mostly memory pages copied from the worker), or when
    tracing is off."""
    rate = _rate(sampling_context, None)
    if rate is None:
        return None
    # Six decimals, rounded down, as the SDK's own: the trace's header shows it so.
    sample_rand = random.randrange(1_000_000) / 1_000_000
    if sample_rand >= rate:
        _count_dropped()
        return None
    context = sentry_sdk.get_isolation_scope().get_active_propagation_context()
    transaction = Transaction(trace_id=context.trace_id, same_process_as_parent=False, **fields)
    transaction._sample_rand = sample_rand  # the SDK rolls against it, and reports it
    transaction = sentry_sdk.start_transaction(transaction, custom_sampling_context=sampling_context)
    return transaction if transaction.sampled else None


def _rate(sampling_context: dict, parent_sampled: bool | None) -> float | None:
    """The traces sampler's rate for this work, as the SDK will ask it; None when tracing is off."""
    sampler = sentry_sdk.get_client().options.get("traces_sampler")
    if sampler is None:
        return None
    return float(sampler({**sampling_context, "parent_sampled": parent_sampled}))


def _count_dropped() -> None:
    """What the SDK counts for a transaction it drops unsent (its client reports)."""
    transport = sentry_sdk.get_client().transport
    if transport is not None:
        transport.record_lost_event("sample_rate", data_category="transaction")
        transport.record_lost_event("sample_rate", data_category="span")
