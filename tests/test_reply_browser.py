"""A reply refused by WB's moderation, seen in Chromium: the AI's suggestion with a phone
number is not pre-filled (the page says why), a text with an e-mail address is refused
before it is queued (the text stays in the box), and a reply WB itself refuses shows WB's
reason and its text, with "Send again" and "Edit". Writes docs/img/reply-refused.png."""
from __future__ import annotations

import re
import time

from sqlalchemy import select

from chatcenter.actions import request_sync
from chatcenter.models import Chat
from tests.helpers import add_seller, resources, wait_until
from tests.inbox_support import add_operator
from tests.stubs import deepseek_stub as ds
from tests.stubs.wb_stub import MESSAGE_PATH
from tests.test_inbox_browser import browser, context, live, shoot, sign_in, worker  # noqa: F401 - fixtures

QUESTION = "Куртка пришла с дефектом, как вернуть деньги?"
SUGGESTION = "Здравствуйте! Позвоните нам: +7 (999) 123-45-67, оформим возврат."
REFUSAL = "сообщение содержит запрещённые слова"
TEXT = "Здравствуйте! Оформите возврат в приложении, деньги вернутся за три дня."


def test_a_refused_reply_is_shown_with_its_reason_and_text(live, worker, context, wb_stub, deepseek_stub):
    from playwright.sync_api import expect

    deepseek_stub.responder = lambda body: ds.ok({
        "sentiment": "negative", "category": "return", "urgency": "high",
        "summary": "Покупательница хочет вернуть деньги за куртку с дефектом.", "suggested_reply": SUGGESTION})
    seller = add_seller(live.app, name="Куртки и пальто")
    wb_chat = wb_stub.add_chat(client_name="Ирина Соколова", text=QUESTION)
    wb_stub.add_event(wb_chat["chatID"], text=QUESTION, is_new_chat=True)
    request_sync(resources(live.app), seller)
    add_operator(live.app, "anna@shop.example")

    def analysed():
        with resources(live.app).db.session() as session:
            return session.scalar(select(Chat.latest_analysis_id)) is not None
    assert wait_until(analysed, timeout=40)
    with resources(live.app).db.session() as session:
        chat_id = session.scalar(select(Chat.id))

    page = context().new_page()
    sign_in(page, live, "anna@shop.example")
    page.goto(live(f"/chats/{chat_id}"))
    box = page.get_by_label("Your reply")
    expect(box).to_have_value("")  # the suggestion holds a phone number: not pre-filled
    expect(page.locator(".not-prefilled")).to_contain_text("it contains a phone number, which Wildberries refuses")

    # Refused before it is queued: the reason, and the text stays in the box.
    box.fill("Напишите на shop@example.ru")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("Not sent: it contains an e-mail address")
    expect(box).to_have_value("Напишите на shop@example.ru")

    # WB's own moderation refuses the next one: failed, with WB's reason and the text.
    wb_stub.fail_next(400, path=MESSAGE_PATH, body={"result": None, "errors": [REFUSAL]})
    box.fill(TEXT)
    page.get_by_role("button", name="Send").click()
    failed = page.locator(".reply-failed")
    expect(failed).to_contain_text("Your reply: Not sent", timeout=30_000)
    expect(failed).to_contain_text(REFUSAL)
    expect(failed.locator(".reply-text")).to_have_text(TEXT)
    expect(failed.get_by_role("button", name="Send again")).to_be_visible()
    expect(failed.get_by_role("link", name="Edit")).to_be_visible()
    time.sleep(0.3)
    shoot(page, "reply-refused.png")

    failed.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Your reply")).to_have_value(TEXT)
    page.go_back()
    page.locator(".reply-failed").get_by_role("button", name="Send again").click()
    expect(page.locator(".reply-sent").last).to_contain_text("Your reply: Sent", timeout=30_000)
    assert wb_stub.delivered(TEXT) == 1
    expect(page.locator(".thread")).to_contain_text(re.compile(re.escape(TEXT)))
