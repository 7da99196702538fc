"""WB failing for a seller shows, without a reload, on every inbox page within 60 s: a banner
naming the seller and since when, and the sellers page says the polls fail. Chromium against
the app served for real, with a real poller process and the WB stub."""
from __future__ import annotations

import time

from chatcenter.config import PROJECT_ROOT
from tests.helpers import WB_TOKEN, add_seller, start_process, wait_until
from tests.inbox_support import add_operator
from tests.test_inbox_browser import browser, context, live, shoot, sign_in  # noqa: F401  (fixtures)
from tests.test_processes import stop


def test_failing_wb_polls_show_a_banner_on_open_inbox_pages_within_60_s(live, context, wb_stub):  # noqa: F811
    from playwright.sync_api import expect

    assert live.settings.sync_interval_seconds == 10  # the default cadence
    add_seller(live.app, name="Куртки и пальто", token=WB_TOKEN)
    add_operator(live.app, "anna@shop.example")
    poller = start_process(live.settings, "-m", "chatcenter.poller")
    try:
        assert wait_until(lambda: len(wb_stub.requests) >= 1, timeout=30)  # a good poll first
        page = context().new_page()
        sign_in(page, live, "anna@shop.example")
        expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
        expect(page.locator(".stale-seller")).to_have_count(0)
        chat_page = context().new_page()  # a second open page, as an operator with two tabs
        sign_in(chat_page, live, "anna@shop.example")
        chat_page.goto(live("/sellers"))

        wb_stub.fail_next(503, count=10_000)  # WB's gateway answers 503 to every request from now
        failed_at = time.time()
        banner = page.locator(".stale-seller")
        expect(banner).to_contain_text("Куртки и пальто: chats may be out of date.", timeout=60_000)
        shown_after = time.time() - failed_at
        expect(banner).to_contain_text("Wildberries polls have failed since")
        expect(banner).to_contain_text("503")
        shoot(page, "stale-banner.png")
        # The sellers page says so too, instead of "OK, last error: none".
        expect(chat_page.locator(".seller .badge-state-error")).to_have_text("Polls failing", timeout=30_000)
        expect(chat_page.locator(".seller")).to_contain_text("Polls failing since")
        expect(chat_page.locator(".stale-seller")).to_have_count(1)
    finally:
        output = stop(poller)
    assert shown_after <= 60, output
    assert (PROJECT_ROOT / "docs" / "img" / "stale-banner.png").exists()
