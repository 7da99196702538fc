"""What an operator sees when an analysis fails (issue 28 §3): with DeepSeek down the chat
page says "analysis failed: <reason>; next try at HH:MM" instead of "Analysis in
progress…", and /api/jobs/analyze-chat-N says the same; "Analyse again" analyses again
even when no message came since the last analysis. Real worker processes, the DeepSeek stub."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from chatcenter.models import Analysis
from chatcenter.queues import ANALYSIS_JOB
from tests.helpers import add_seller, overrides, resources, run_worker_process
from tests.inbox_support import add_operator, csrf_token, sign_in
from tests.test_queries import make_chat

DOWN = "http://127.0.0.1:1"  # nothing listens: connection refused


@pytest.fixture
def web_app(make_app, job_settings):
    """The web app (no app context kept pushed, as job_app does: `g` would outlive a request)."""
    return make_app(**overrides(job_settings))


@pytest.fixture
def chat(web_app) -> int:
    return make_chat(web_app, add_seller(web_app), 1, buyer_at=1)


@pytest.fixture
def operator_client(web_app):
    add_operator(web_app)
    client = web_app.test_client()
    assert sign_in(client).status_code == 302
    return client


def ask_for_analysis(client, chat_id: int):
    page = client.get(f"/chats/{chat_id}")
    return client.post(f"/chats/{chat_id}/analysis", data={"csrf_token": csrf_token(page.text)},
                       follow_redirects=True)


def analyses(app) -> list[Analysis]:
    with resources(app).db.session() as session:
        return list(session.scalars(select(Analysis).order_by(Analysis.id)))


def test_deepseek_down_shows_the_failure_and_the_next_try_on_the_page_and_in_the_api(
        make_app, job_settings, make_api):
    down = replace(job_settings, deepseek_api_base_url=DOWN, job_retry_delays=(120, 120))
    app = make_app(**overrides(down))
    chat = make_chat(app, add_seller(app), 1, buyer_at=1)
    add_operator(app)
    operator_client = app.test_client()
    sign_in(operator_client)
    asked = ask_for_analysis(operator_client, chat)
    assert "Analysis requested" in asked.text
    before = datetime.now(timezone.utc)

    worker = run_worker_process(down, "analysis")  # the first attempt fails; the retry waits 120 s
    assert worker.returncode == 0, worker.stderr

    job = make_api(app).get(f"/api/jobs/{ANALYSIS_JOB.job_id(chat)}").get_json()
    assert job["status"] == "retrying"
    assert job["reason"] == "Could not reach DeepSeek at 127.0.0.1:1: Connection refused"
    retry_at = datetime.fromisoformat(job["retry_at"])
    assert 100 <= (retry_at - before).total_seconds() <= 140

    page = operator_client.get(f"/chats/{chat}").text
    assert "Analysis in progress" not in page
    shown = re.search(r'id="analysis-failure">(.*?)</p>', page, re.S).group(1).strip()
    # The time in the page's zone (UTC here), with the day only when it is not today.
    assert re.fullmatch(rf"Analysis failed: {re.escape(job['reason'])}; next try at (\w+ \d+, )?{retry_at:%H:%M}\.",
                        shown), shown
    live = operator_client.get(f"/live/chats/{chat}/analysis").text
    assert "Analysis failed:" in live and "Analysis in progress" not in live


def test_a_failure_for_good_says_why_and_analyse_again_is_offered(web_app, job_settings, chat, operator_client,
                                                                  deepseek_stub, make_api):
    from tests.stubs import deepseek_stub as ds

    deepseek_stub.script(ds.error(401))
    ask_for_analysis(operator_client, chat)
    assert run_worker_process(job_settings, "analysis").returncode == 0
    job = make_api(web_app).get(f"/api/jobs/{ANALYSIS_JOB.job_id(chat)}").get_json()
    assert (job["status"], job.get("retry_at")) == ("failed", None)
    assert job["reason"].startswith("DeepSeek rejected the API key (401)")
    page = operator_client.get(f"/chats/{chat}").text
    assert f"Analysis failed: {job['reason']}." in page.replace("&#39;", "'")
    assert re.search(r'<button type="submit"\s*>Analyse</button>', page)


def test_analyse_again_analyses_again_without_a_new_message(web_app, job_settings, chat, operator_client,
                                                           deepseek_stub):
    ask_for_analysis(operator_client, chat)
    assert run_worker_process(job_settings, "analysis").returncode == 0
    assert len(analyses(web_app)) == 1
    again = ask_for_analysis(operator_client, chat)  # nothing new since: a person asked, so it runs
    assert "Analysis requested" in again.text
    assert run_worker_process(job_settings, "analysis").returncode == 0
    assert len(analyses(web_app)) == 2 and len(deepseek_stub.requests) == 2


def test_analyse_again_while_one_is_queued_says_so(chat, operator_client):
    ask_for_analysis(operator_client, chat)
    second = ask_for_analysis(operator_client, chat)
    assert "An analysis of this chat is already under way" in second.text
