"""Search and saved replies in a real browser (Chromium through Playwright): the key "/" into
the search box, results kept through the filters; the saved-reply picker (";" and the button)
filling the reply box, edited and sent.

Writes docs/img/search.png, search-mobile.png, saved-replies-picker.png and its -mobile version.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from chatcenter import saved_replies
from chatcenter.actions import request_sync
from chatcenter.models import Chat, Reply
from tests.helpers import add_seller, resources, run_jobs
from tests.inbox_support import add_operator
from tests.test_inbox_browser import (  # noqa: F401 - fixtures
    PHONE, browser, context, live, seed_wb, shoot, sign_in,
)

GREETING = "Здравствуйте, {buyer_name}! Заказ с артикулом {nm_id} передан в доставку, трек-номер пришлём сегодня."
APOLOGY = "Приносим извинения за задержку."


def synced(live, wb_stub) -> dict[str, int]:
    """The browser tests' four chats, synced and analysed; chat ids by key."""
    seller = add_seller(live.app, name="Куртки и пальто")
    wb_chats = seed_wb(wb_stub)
    request_sync(resources(live.app), seller)
    run_jobs(live.app, queues=("sync",))
    run_jobs(live.app, queues=("analysis",))
    add_operator(live.app, "anna@shop.example")
    with resources(live.app).db.session() as session:
        ids = dict(session.execute(select(Chat.wb_chat_id, Chat.id)).all())
    return {key: ids[chat["chatID"]] for key, chat in wb_chats.items()}


def test_slash_focuses_the_search_and_results_keep_their_words_through_the_filters(live, context, wb_stub):
    from playwright.sync_api import expect

    synced(live, wb_stub)
    page = context().new_page()
    sign_in(page, live, "anna@shop.example")
    page.goto(live("/?view=all"))
    expect(page.locator(".chat-row")).to_have_count(4)
    box = page.get_by_role("searchbox", name="Search chats")
    page.wait_for_load_state()  # the page's scripts are in
    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the key itself is not typed
    page.keyboard.type("куртка")
    page.keyboard.press("Enter")
    # Two buyers wrote "куртка"; newest first.
    expect(page.locator(".chat-row .buyer")).to_have_text(["Ирина", "Пётр"])
    expect(page.locator("#search-results")).to_contain_text("Search results for “куртка”")
    expect(box).to_have_value("куртка")

    page.get_by_label("Show").select_option("awaiting")  # both still wait for an answer (applied on change)
    expect(page).to_have_url(re.compile(r"q=%D0%BA%D1%83%D1%80%D1%82%D0%BA%D0%B0.*show=awaiting|show=awaiting.*q=%D0"))
    expect(page.locator(".chat-row .buyer")).to_have_text(["Ирина", "Пётр"])
    page.get_by_label("Urgency").select_option("high")
    expect(page.locator(".chat-row .buyer")).to_have_text(["Ирина"])
    expect(box).to_have_value("куртка")

    page.goto(live("/?q=Соколова"))  # a buyer's surname
    expect(page.locator(".chat-row .buyer")).to_have_text(["Ирина"])
    page.goto(live("/?q=куртка"))
    shoot(page, "search.png")
    phone = context(viewport=PHONE).new_page()
    sign_in(phone, live, "anna@shop.example")
    phone.goto(live("/?q=куртка"))
    expect(phone.locator(".chat-row")).to_have_count(2)
    shoot(phone, "search-mobile.png")

    page.get_by_role("link", name="Clear search").click()  # back to the default view: Needs reply
    expect(page.locator(".chat-row")).to_have_count(3)
    expect(box).to_have_value("")
    page.get_by_role("link", name="Saved replies").first.click()
    page.keyboard.press("/")  # no search box on this page: nothing happens, nothing breaks
    expect(page.get_by_role("heading", name="Saved replies")).to_be_visible()


def test_the_picker_fills_the_reply_box_which_the_operator_edits_and_sends(live, context, wb_stub):
    from playwright.sync_api import expect

    ids = synced(live, wb_stub)
    page = context().new_page()
    sign_in(page, live, "anna@shop.example")

    # The team's saved replies are managed on their page.
    page.get_by_role("link", name="Saved replies").first.click()
    page.get_by_label("Name").first.fill("Доставка")
    page.get_by_label("Text").first.fill("Hi {buyer}, {nm_id}")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("alert")).to_have_text("Unknown placeholders: {buyer}. Use {buyer_name}, {nm_id}.")
    expect(page.get_by_label("Name").first).to_have_value("Доставка")  # what was typed is kept
    page.get_by_label("Text").first.fill(GREETING)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_contain_text("Saved reply “Доставка” added.")
    page.get_by_label("Name").first.fill("Извинение")
    page.get_by_label("Text").first.fill(APOLOGY)
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".template-list > li")).to_have_count(2)
    with resources(live.app).db.session() as session:
        saved_replies.create(session, "Удалить", "Ненужный ответ")
    page.reload()
    page.locator(".template-list > li").filter(has=page.locator("input[value=\"Удалить\"]")).get_by_role(
        "button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Saved reply “Удалить” deleted.")
    expect(page.locator(".template-list > li")).to_have_count(2)

    # In Irina's chat, ";" at the start of the reply opens the picker; typing narrows it.
    page.goto(live(f"/chats/{ids['irina']}"))
    page.wait_for_load_state()
    box = page.get_by_label("Your reply")
    box.fill("")
    box.press(";")
    picker = page.locator("#template-picker")
    expect(picker).to_be_visible()
    expect(page.locator("#template-filter")).to_be_focused()
    expect(picker.locator("[role=option]:visible")).to_have_count(2)
    page.keyboard.type("дост")
    expect(picker.locator("[role=option]:visible")).to_have_count(1)
    shoot(page, "saved-replies-picker.png")
    page.keyboard.press("Enter")
    expect(picker).to_be_hidden()
    filled = ("Здравствуйте, Ирина! Заказ с артикулом 180000000 передан в доставку, трек-номер пришлём сегодня.")
    expect(box).to_have_value(filled)
    expect(box).to_be_focused()

    # After a space ";" opens it too; Escape leaves the text as typed. The button inserts at the caret.
    box.press("End")
    page.keyboard.type(" ;")
    expect(picker).to_be_visible()
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(box).to_have_value(filled + " ;")
    box.fill(filled + " ")
    box.press("End")
    page.get_by_role("button", name="Saved replies").click()
    picker.get_by_role("option", name="Извинение").click()
    expect(box).to_have_value(f"{filled} {APOLOGY}")
    page.keyboard.type(" Спасибо за терпение!")  # edited before sending
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".reply-state")).to_be_visible()
    with resources(live.app).db.session() as session:
        assert session.scalars(select(Reply.text)).all() == [f"{filled} {APOLOGY} Спасибо за терпение!"]

    phone = context(viewport=PHONE).new_page()
    sign_in(phone, live, "anna@shop.example")
    phone.goto(live(f"/chats/{ids['oleg']}"))
    phone.get_by_role("button", name="Saved replies").click()
    expect(phone.locator("#template-picker")).to_be_visible()
    phone.locator("#template-picker").scroll_into_view_if_needed()
    shoot(phone, "saved-replies-picker-mobile.png")
