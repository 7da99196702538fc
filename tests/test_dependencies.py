"""Dependencies we rely on beyond their public surface: pinned, and checked on upgrade."""
from __future__ import annotations

import os

import jinja2
import redis
import requests
import urllib3

from chatcenter import runtime
from chatcenter.clients.deepseek import _cap_socket_timeout
from chatcenter.config import PROJECT_ROOT
from tests.stubs import deepseek_stub as ds


def test_urllib3_is_pinned_at_the_installed_version():
    # chatcenter/clients/deepseek.py imports urllib3 itself: it must not float with requests.
    pins = (PROJECT_ROOT / "requirements.txt").read_text().split()
    assert f"urllib3=={urllib3.__version__}" in pins


def test_the_deepseek_deadline_still_reaches_urllib3s_socket(deepseek_stub):
    """Fails when a urllib3 upgrade moves the private attribute the deadline relies on."""
    deepseek_stub.script(ds.slow_blank_lines(1.0))
    with requests.post(f"{deepseek_stub.url}/chat/completions", json={}, stream=True, timeout=5,
                       headers={"Authorization": f"Bearer {deepseek_stub.api_key}"}) as resp:
        assert _cap_socket_timeout(resp, 0.25) is True


def test_jinja_is_pinned_at_the_installed_version():
    # The inbox binds its templates' gettext with jinja2.ext's private newstyle wrappers.
    pins = (PROJECT_ROOT / "requirements.txt").read_text().split()
    assert f"jinja2=={jinja2.__version__}" in pins
    from jinja2.ext import _make_new_gettext, _make_new_ngettext  # noqa: F401  (still there)


def test_the_work_horse_flush_still_finds_sentrys_sending_thread():
    """Fails when a sentry-sdk upgrade moves what flush_only_what_this_process_queued relies on
    (then every work-horse would flush as the SDK does: correct, only slower)."""
    import sentry_sdk
    from sentry_sdk.transport import HttpTransport

    from chatcenter.observability.sentry import flush_only_what_this_process_queued

    transport = HttpTransport(sentry_sdk.Client("http://key@127.0.0.1:9/1").options)
    try:
        assert transport._worker.is_alive is False  # nothing queued in this process yet
        flush_only_what_this_process_queued(transport)
        transport.flush(1.0)
        assert transport._worker.is_alive is False  # the wrapped flush started no thread
        transport._worker.submit(lambda: None)
        assert transport._worker.is_alive is True  # something queued: flushes as before
        transport.flush(1.0)
    finally:
        transport.kill()


def test_a_connection_opened_after_fork_still_names_redis_py_and_its_version(redis_url):
    """The driver info is worked out once (chatcenter/runtime.py): a work-horse's fresh
    connection must still carry what it tells Redis (CLIENT SETINFO, Redis 7.2 and newer),
    as redis-py's own default would."""
    client = runtime.redis_client(redis_url)
    client.ping()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a work-horse: the pool it inherits starts empty, the connection is new
        try:
            client.ping()
            connection = client.connection_pool.get_connection()
            os.write(write, f"{connection.driver_info.formatted_name} {connection.driver_info.lib_version}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    client.close()
    assert answer == f"redis-py {redis.__version__}"


def test_a_sample_rand_head_sampling_gives_a_transaction_is_what_the_sdk_rolls_against_and_reports():
    """start_head_if_sampled rolls first and gives a sampled transaction its roll as its
    private `_sample_rand`. Fails when a sentry-sdk upgrade ignores it, in its decision or in
    the trace's header (then jobs heading a trace would be sampled at the rate squared, or
    report a sample_rand over their rate)."""
    import uuid

    import sentry_sdk
    from sentry_sdk.tracing import Transaction

    sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", traces_sampler=lambda context: 0.3,
                    default_integrations=False)
    for sample_rand, sampled in ((0.0, True), (0.299999, True), (0.3, False), (0.95, False)):
        transaction = Transaction(name="job", trace_id=uuid.uuid4().hex)
        transaction._sample_rand = sample_rand
        transaction = sentry_sdk.start_transaction(transaction)
        assert transaction.sampled is sampled
        header = transaction.get_baggage().dynamic_sampling_context()
        assert (header["sample_rand"], header["sample_rate"]) == (f"{sample_rand:.6f}", "0.3")


def test_rq_integrations_wrapper_is_still_what_job_sentry_unwraps():
    """Fails when a sentry-sdk upgrade changes what chatcenter/observability/job_sentry.py
    relies on: the name and `__wrapped__` of RqIntegration's perform_job wrapper, and the
    event processor it adds to a job's reports. (Then every job would take the wrapper.)"""
    import sentry_sdk
    from rq.worker import BaseWorker
    from sentry_sdk.integrations.rq import RqIntegration, _make_event_processor  # noqa: F401

    from chatcenter.observability import job_sentry

    sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", integrations=[RqIntegration()], default_integrations=False)
    plain = job_sentry.integration_perform_job(BaseWorker.perform_job)
    assert plain is not None
    assert plain.__code__.co_name == "perform_job"
    assert plain.__module__ == "rq.worker.base"


def test_the_installed_modules_cache_the_worker_fills_before_forking_is_still_there():
    """Fails when a sentry-sdk upgrade moves the cache work_out_before_forking fills (then
    each work-horse's first report would read every package's metadata again)."""
    import sentry_sdk.utils

    from chatcenter.observability.sentry import work_out_before_forking

    work_out_before_forking()
    assert sentry_sdk.utils._installed_modules["sentry-sdk"] == sentry_sdk.VERSION


def test_the_sqlalchemy_listener_sentry_trims_swaps_is_still_the_sdks():
    """Fails when a sentry-sdk upgrade moves the listener sql_spans_only_in_sampled_traces
    takes out (then every query would again get a span and a breadcrumb: correct, slower)."""
    import sentry_sdk
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration, _after_cursor_execute
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from chatcenter.observability import sentry_trims

    sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", integrations=[SqlalchemyIntegration()],
                    default_integrations=False)
    sentry_trims.sql_spans_only_in_sampled_traces()
    assert not event.contains(Engine, "before_cursor_execute", sentry_trims._record_query)
    assert event.contains(Engine, "before_cursor_execute", sentry_trims._record_query_if_sampled)
    assert event.contains(Engine, "after_cursor_execute", _after_cursor_execute)


def test_the_sample_rand_head_sampling_reads_is_what_the_sdk_rolls_against():
    """head_sampling skips the transaction of a request or job whose trace the SDK would
    not sample, by reading the Transaction's private `_sample_rand` against the sampler's
    rate. Fails when a sentry-sdk upgrade moves it or rolls otherwise (then the share of
    requests and jobs traced would drift from the configured rate)."""
    import uuid

    import sentry_sdk
    from sentry_sdk.tracing import Transaction

    sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", traces_sampler=lambda context: 0.3,
                    default_integrations=False)
    decisions = []
    for _ in range(300):
        transaction = Transaction(name="probe", trace_id=uuid.uuid4().hex)
        predicted = transaction._sample_rand < 0.3
        decisions.append(sentry_sdk.start_transaction(transaction).sampled)
        assert decisions[-1] is predicted
    assert 40 < sum(decisions) < 140  # both answers occurred: the check compared something
