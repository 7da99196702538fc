"""The chat page's status, assignment and notes in a real browser (Playwright driving
Debian's Chromium against the app served over HTTP; see tests/test_inbox_browser.py).

Writes the README's screenshots docs/img/chat-notes.png, chat-notes-mobile.png (360 px)
and chat-notes-ru.png.
"""
from __future__ import annotations

import re
from datetime import timedelta

from chatcenter.chat_store import record_message
from chatcenter.models import Chat, Message, utcnow
from tests.helpers import add_seller, resources
from tests.inbox_support import add_operator
from tests.test_inbox_browser import PHONE, browser, context, live, shoot, sign_in  # noqa: F401  (fixtures)

CONVERSATION = [("client", 130, "Здравствуйте! Куртка пришла с браком: оторван карман."),
                ("seller", 110, "Здравствуйте, Ирина! Пришлите, пожалуйста, фото кармана."),
                ("client", 95, "Отправила фото. Хочу обмен на такую же, размер M.")]
NOTE = "Звонила на склад: размер M есть, обмен можно оформить завтра."


def seeded_chat(app) -> int:
    seller = add_seller(app, name="Куртки и пальто")
    now = utcnow()
    with resources(app).db.session() as session:
        chat = Chat(seller_id=seller, wb_chat_id="wb-notes-1", client_name="Ирина Соколова", last_message_at=now,
                    good_card={"nmID": 180000001, "price": 5990, "priceCurrency": "RUB", "size": "M"})
        session.add(chat)
        session.flush()
        for n, (sender, minutes_ago, text) in enumerate(CONVERSATION):
            message = Message(chat_id=chat.id, wb_event_id=f"e{n}", sender=sender, text=text,
                              sent_at=now - timedelta(minutes=minutes_ago))
            session.add(message)
            session.flush()
            record_message(chat, message)
        return chat.id


def test_an_operator_assigns_notes_snoozes_reopens_and_resolves_a_chat(live, context):
    from playwright.sync_api import expect

    chat_id = seeded_chat(live.app)
    add_operator(live.app, "anna@shop.example")
    add_operator(live.app, "boris@shop.example")
    page = context().new_page()
    sign_in(page, live, "anna@shop.example")

    # The default view is "Needs reply": the buyer waits, so the chat is there.
    expect(page.get_by_role("link", name="Needs reply")).to_have_attribute("aria-current", "page")
    expect(page.locator(".chat-row")).to_have_count(1)
    page.locator(".chat-row a").click()
    expect(page.locator("#chat-status")).to_have_text("Open")

    # Assign to Boris from the list of operators, then take it: "Assign to me" (key a).
    page.get_by_label("Assignee").select_option(label="boris@shop.example")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".page-head")).to_contain_text("Assigned to boris@shop.example")
    assign_to_me = page.locator("[data-shortcut=a]")
    expect(assign_to_me).to_have_text("Assign to me")
    page.keyboard.press("Escape")  # out of the reply box (focused on opening), then the key
    page.keyboard.press("a")
    expect(page.locator(".page-head")).to_contain_text("Assigned to anna@shop.example")
    expect(page.locator(".change").last).to_contain_text("anna@shop.example assigned the chat to anna@shop.example")
    expect(page.locator("[data-shortcut=a]")).to_be_disabled()

    # A note for the team: a yellow card in the thread, not a message.
    page.get_by_label("Internal note").fill(NOTE)
    page.get_by_role("button", name="Add note").click()
    note = page.locator(".note")
    expect(note).to_contain_text(NOTE)
    expect(note).to_contain_text("anna@shop.example")
    assert note.evaluate("n => getComputedStyle(n).backgroundColor") == "rgb(254, 247, 195)"
    expect(page.locator(".message", has_text=NOTE)).to_have_count(0)

    # Snooze for an hour: the status says until when; it is out of "Needs reply".
    page.get_by_label("Snooze", exact=True).select_option("1h")
    page.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator("#chat-status")).to_contain_text(re.compile(r"Snoozed until \d\d:\d\d"))
    expect(page.locator(".change").last).to_contain_text("anna@shop.example snoozed the chat until")
    page.goto(live("/"))
    expect(page.locator(".chat-row")).to_have_count(0)
    page.get_by_role("link", name="Snoozed").click()
    expect(page.locator(".chat-row")).to_have_count(1)
    expect(page.locator(".chat-row .badge-status-snoozed")).to_contain_text("Snoozed until")

    # A time in the past is refused with a word on what to do.
    page.locator(".chat-row a").click()
    page.get_by_label("Snooze", exact=True).select_option("until")
    page.get_by_label("Snooze until").fill("2020-01-01T09:00")
    page.get_by_role("button", name="Snooze", exact=True).click()
    expect(page.locator(".flash-error")).to_have_text("Choose a date and time in the future to snooze the chat until.")

    # Reopen, then resolve (the button the key e presses).
    page.get_by_role("button", name="Reopen").click()
    expect(page.locator("#chat-status")).to_have_text("Open")
    resolve = page.locator("[data-shortcut=e]")
    expect(resolve).to_have_text("Resolve")
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    expect(page.locator("#chat-status")).to_have_text("Resolved")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    lines = page.locator(".change").all_inner_texts()
    assert [re.sub(r" · .*", "", line) for line in lines] == [
        "anna@shop.example assigned the chat to boris@shop.example",
        "anna@shop.example assigned the chat to anna@shop.example",
        "anna@shop.example snoozed the chat until " + lines[2].split(" until ")[1].split(" · ")[0],
        "anna@shop.example reopened the chat",
        "anna@shop.example resolved the chat"]
    assert all(re.search(r" · \d\d:\d\d$", line) for line in lines)
    shoot(page, "chat-notes.png")
    phone = context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()
    phone.goto(page.url)
    shoot(phone, "chat-notes-mobile.png")
    russian = context(locale="ru-RU", storage_state=page.context.storage_state()).new_page()
    russian.goto(page.url)
    expect(russian.locator("#chat-status")).to_have_text("Решён")
    expect(russian.locator(".change").last).to_contain_text("anna@shop.example — чат решён")
    expect(russian.locator(".note-tag")).to_have_text("Внутренняя заметка")
    shoot(russian, "chat-notes-ru.png")

    # The inbox: resolved, in "Resolved" and "Mine", not in "Needs reply".
    page.goto(live("/"))
    expect(page.locator(".chat-row")).to_have_count(0)
    for view in ("Resolved", "All"):
        page.get_by_role("link", name=view, exact=True).click()
        expect(page.locator(".chat-row")).to_have_count(1)
    page.get_by_role("link", name="Mine").click()
    expect(page.locator(".chat-row")).to_have_count(0)  # Mine: the open ones
    assert chat_id
