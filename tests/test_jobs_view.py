"""The Jobs page: a job that failed for good in a real worker is shown with its public reason,
and Retry runs it again (Discard forgets it); queue depths follow the jobs."""
from __future__ import annotations

import re

import pytest

from chatcenter import job_board
from chatcenter.actions import request_sync
from chatcenter.models import Seller, SyncState
from tests.helpers import WB_TOKEN, add_seller, overrides, resources, run_worker_process
from tests.inbox_support import add_operator, csrf_token, sign_in
from tests.test_inbox_browser import browser, context, live, shoot  # noqa: F401  (fixtures)
from tests.test_inbox_browser import sign_in as browser_sign_in


@pytest.fixture
def web(make_app, job_settings):
    """The app as the web serves it: each request in its own app context (job_app keeps one
    pushed for calling jobs, which would share `g`, and so a stale CSRF token, between requests)."""
    return make_app(**overrides(job_settings))


def fail_a_sync(app, settings, wb_stub, name="Refused shop") -> int:
    """A sync WB refuses (401): permanent, so the job fails at once, for good."""
    seller_id = add_seller(app, name=name, token="a-token-wb-no-longer-accepts")
    request_sync(resources(app), seller_id)
    done = run_worker_process(settings, "sync")
    assert done.returncode == 0, done.stderr[-2000:]
    return seller_id


def test_a_failed_job_is_listed_with_its_reason_and_retry_runs_it_again(web, job_settings, wb_stub):
    job_app = web
    seller_id = fail_a_sync(job_app, job_settings, wb_stub)
    client = job_app.test_client()
    add_operator(job_app)
    sign_in(client)

    page = client.get("/jobs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"sync-seller-{seller_id}" in html
    assert "WB refused" in html or "401" in html  # the public reason, as the API gives it
    assert job_board.depths(resources(job_app).redis)["sync"]["failed"] == 1

    # The operator fixes the token (WB accepts it now) and presses Retry.
    wb_stub.valid_tokens.add("a-token-wb-no-longer-accepts")
    with resources(job_app).db.session() as session:
        session.get(Seller, seller_id).sync_state = SyncState.ERROR
    answer = client.post(f"/jobs/sync-seller-{seller_id}/retry", data={"csrf_token": csrf_token(html)})
    assert answer.status_code == 302, answer.get_data(as_text=True)[-600:]
    followed = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Job sync-seller-{seller_id} is queued to run again." in followed
    assert job_board.depths(resources(job_app).redis)["sync"] == {
        "queued": 1, "scheduled": 0, "started": 0, "failed": 0}

    done = run_worker_process(job_settings, "sync")
    assert done.returncode == 0, done.stderr[-2000:]
    with resources(job_app).db.session() as session:
        assert session.get(Seller, seller_id).sync_state == SyncState.OK
    assert "No jobs here." in client.get("/jobs?state=failed").get_data(as_text=True)


def test_discard_forgets_a_failed_job_and_a_running_job_cannot_be_discarded(web, job_settings, wb_stub):
    job_app = web
    seller_id = fail_a_sync(job_app, job_settings, wb_stub)
    client = job_app.test_client()
    add_operator(job_app)
    sign_in(client)
    token = csrf_token(client.get("/jobs").get_data(as_text=True))

    client.post(f"/jobs/sync-seller-{seller_id}/discard", data={"csrf_token": token})
    assert job_board.depths(resources(job_app).redis)["sync"]["failed"] == 0
    assert job_board.list_jobs(resources(job_app).redis, "failed").jobs == []

    other = add_seller(job_app, name="Queued shop", token=WB_TOKEN)
    request_sync(resources(job_app), other)
    answer = client.post(f"/jobs/sync-seller-{other}/discard", data={"csrf_token": token}, follow_redirects=True)
    assert f"job sync-seller-{other} is queued, not failed" in answer.get_data(as_text=True)
    assert job_board.depths(resources(job_app).redis)["sync"]["queued"] == 1
    missing = client.post("/jobs/sync-seller-999999/retry", data={"csrf_token": token})
    assert missing.status_code == 404


def test_pages_of_failed_jobs_do_not_repeat_or_skip_when_new_failures_arrive(job_app, job_settings, wb_stub):
    for n in range(5):
        fail_a_sync(job_app, job_settings, wb_stub, name=f"Refused shop {n}")
    redis = resources(job_app).redis
    first = job_board.list_jobs(redis, "failed", limit=2)
    assert len(first.jobs) == 2 and first.next_cursor
    fail_a_sync(job_app, job_settings, wb_stub, name="Refused later")  # newer: not on later pages
    seen = [job["id"] for job in first.jobs]
    cursor = first.next_cursor
    while cursor:
        page = job_board.list_jobs(redis, "failed", limit=2, cursor=cursor)
        seen += [job["id"] for job in page.jobs]
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 5


def test_the_jobs_page_in_a_browser(live, context, wb_stub):
    from playwright.sync_api import expect

    fail_a_sync(live.app, live.settings, wb_stub)
    add_operator(live.app, "anna@shop.example")
    for viewport, name in (({"width": 1440, "height": 900}, "jobs.png"), ({"width": 360, "height": 780},
                                                                           "jobs-mobile.png")):
        page = context(viewport=viewport).new_page()
        browser_sign_in(page, live, "anna@shop.example")
        expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
        page.get_by_role("link", name="Jobs").click()
        expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
        card = page.locator(".job").first
        expect(card).to_contain_text(re.compile(r"sync-seller-\d+"))
        expect(card.locator(".reason")).not_to_be_empty()
        shoot(page, name)
    card.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status").first).to_contain_text("is queued to run again.")


def test_the_api_lists_retries_and_discards_failed_jobs(web, job_settings, wb_stub, make_api):
    api = make_api(web)
    seller_id = fail_a_sync(web, job_settings, wb_stub)
    other = fail_a_sync(web, job_settings, wb_stub, name="Another refused shop")

    listed = api.get("/api/jobs?state=failed&limit=1")
    assert listed.status_code == 200
    first = listed.get_json()
    assert [job["subject"] for job in first["jobs"]] == [{"seller_id": other}]  # newest first
    assert first["jobs"][0]["reason"].startswith("WB API rejected the token (401)")
    rest = api.get(f"/api/jobs?state=failed&limit=1&cursor={first['next_cursor']}").get_json()
    assert [job["id"] for job in rest["jobs"]] == [f"sync-seller-{seller_id}"] and rest["next_cursor"] is None

    wb_stub.valid_tokens.add("a-token-wb-no-longer-accepts")  # the token works now
    retried = api.post(f"/api/jobs/sync-seller-{seller_id}/retry")
    assert retried.status_code == 202 and retried.headers["Location"] == f"/api/jobs/sync-seller-{seller_id}"
    assert api.post(f"/api/jobs/sync-seller-{seller_id}/retry").status_code == 409  # queued now, not failed
    assert api.get("/api/jobs?state=queued&queue=sync").get_json()["jobs"][0]["id"] == f"sync-seller-{seller_id}"
    assert run_worker_process(job_settings, "sync").returncode == 0
    assert api.get(f"/api/jobs/sync-seller-{seller_id}").get_json()["status"] == "finished"

    assert api.delete(f"/api/jobs/sync-seller-{other}").status_code == 204
    assert api.get("/api/jobs?state=failed").get_json() == {"jobs": [], "next_cursor": None}
    assert api.delete(f"/api/jobs/sync-seller-{other}").status_code == 404
    refused = api.get("/api/jobs?state=lost")
    assert refused.status_code == 400 and refused.get_json()["detail"].startswith("state")
    assert api.get("/api/jobs?colour=red").get_json()["detail"].startswith("colour")
