"""Logs and exception messages carry ids, never buyers' words: a database error retried
by a real worker (SQLAlchemy would print the bound values) and DeepSeek's 400 that quotes
the prompt back leave no buyer text, phone or e-mail in the worker's log lines or in the
failure RQ stores."""
from __future__ import annotations

from rq import Retry
from rq.job import Job

from chatcenter import runtime
from chatcenter.models import Message, utcnow
from chatcenter.queues import ANALYSIS_JOB, queue
from tests.helpers import add_seller, run_worker_process
from tests.stubs import deepseek_stub as ds

PHONE = "+7 912 345-67-89"
EMAIL = "evdokia.kanareikina@example.ru"
TEXT = f"Верните деньги за заказ, звоните {PHONE} или пишите {EMAIL}"


def store_message_of_a_missing_chat(chat_id: int) -> None:
    """A job whose insert the database refuses (no such chat): the error names the values."""
    with runtime.get().db.session() as session:
        session.add(Message(chat_id=chat_id, wb_event_id="leak-1", sender="client", text=TEXT, sent_at=utcnow()))


def assert_nowhere(found: str) -> None:
    for secret in (TEXT, PHONE, EMAIL, TEXT[:20]):
        assert secret not in found
        assert secret.encode("unicode_escape").decode() not in found


def test_a_database_error_retried_by_the_worker_logs_no_bound_values(job_app, job_settings, redis_client):
    job = queue(redis_client, "default").enqueue(f"{__name__}.store_message_of_a_missing_chat", 999_999,
                                                 retry=Retry(max=2, interval=[0, 0]), description="store")

    result = run_worker_process(job_settings, "default")

    job = Job.fetch(job.id, connection=redis_client)
    assert job.is_failed
    failure = job.latest_result().exc_string
    assert "IntegrityError" in failure and "hide_parameters=True" in failure  # the error is still named
    assert result.stderr.count("IntegrityError") >= 3  # logged on each of the three attempts
    assert_nowhere(result.stdout + result.stderr + failure)


def test_deepseek_echoing_the_prompt_in_a_400_leaves_it_out_of_logs_and_the_failure(job_app, job_settings,
                                                                                    wb_stub, deepseek_stub,
                                                                                    redis_client):
    chat = wb_stub.add_chat(client_name="Евдокия", text="")
    wb_stub.add_event(chat["chatID"], text=TEXT, sender="client", is_new_chat=True)
    from jobs.sync import sync_seller_chats

    sync_seller_chats(add_seller(job_app))  # enqueues the analysis
    deepseek_stub.script(ds.error(400, f"Invalid request: content flagged: '{TEXT}'"))

    result = run_worker_process(job_settings, "analysis")

    [chat_id] = [int(j.removeprefix("analyze-chat-")) for j in queue(redis_client, "analysis").failed_job_registry
                 .get_job_ids()]
    failure = Job.fetch(ANALYSIS_JOB.job_id(chat_id), connection=redis_client).latest_result().exc_string
    assert "DeepSeek rejected the request as invalid (400): Invalid request: content flagged" in failure
    assert "DeepSeek failed: DeepSeek rejected the request as invalid (400)" in result.stderr
    assert_nowhere(result.stdout + result.stderr + failure)
