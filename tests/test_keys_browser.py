"""The inbox without the mouse, and dense enough to work in, in Chromium (Playwright) against
the app served for real, the real worker and the WB stub: j/k/Enter from the list to a chat,
Ctrl+Enter sends the reply (WB's stub receives it), the "?" overlay, unread marks and the
title count (two operators), chats visible at 1440x900 and 360x740, filters applied on
change, previous and next pages.

Writes docs/img/inbox.png, inbox-mobile.png, inbox-ru.png and keys-help.png."""
from __future__ import annotations

import re
import time
from datetime import timedelta

from chatcenter.actions import request_sync
from chatcenter.chat_store import record_message, store_analysis
from chatcenter.models import Analysis, Chat, Message, utcnow
from tests.helpers import WB_TOKEN, add_seller, resources, wait_until
from tests.inbox_support import add_operator
from tests.test_inbox_browser import (  # noqa: F401 - fixtures
    browser, context, live, seed_wb, shoot, sign_in, worker,
)

PHONE = {"width": 360, "height": 740}
SUMMARIES = [
    ("high", "negative", "delivery", "Покупательница неделю ждёт куртку и спрашивает, где заказ; просит вернуть деньги."),
    ("medium", "neutral", "question", "Покупатель спрашивает, подойдёт ли размер M при росте 180 см и весе 85 кг."),
    ("low", "positive", "other", "Покупатель благодарит: товар пришёл вовремя, всё понравилось."),
    ("high", "negative", "product_defect", "На куртке разошёлся шов после первой носки; покупатель хочет обмен."),
]
NAMES = ["Ирина Соколова", "Олег Петров", "Пётр Иванов", "Мария Кузнецова", "Анна Смирнова", "Дмитрий Орлов",
         "Елена Волкова", "Сергей Морозов", "Ольга Новикова", "Никита Фёдоров"]
TEXTS = ["Заказ не пришёл, жду уже неделю! Где моя куртка? Трек-номер не обновляется с понедельника.",
         "Подскажите, какой размер взять на рост 180? В таблице размеров не нашёл.",
         "Спасибо, всё пришло, отличная куртка!",
         "Шов разошёлся после первой носки, можно обменять?"]


def seed_chats(app, seller_id: int, count: int, *, answered_every: int = 4) -> list[int]:
    """`count` analysed chats, a buyer's message each (and the seller's answer in some)."""
    made = []
    now = utcnow()
    with resources(app).db.session() as session:
        for n in range(count):
            chat = Chat(seller_id=seller_id, wb_chat_id=f"dense-{seller_id}-{n}", client_name=NAMES[n % len(NAMES)],
                        reply_sign=f"sign-{n}", last_message_at=now - timedelta(days=3), awaiting_reply=False,
                        analysis_due=False, priority=1,
                        good_card={"nmID": 180000000 + n, "price": 4990 + 10 * n, "priceCurrency": "RUB", "size": "M"})
            session.add(chat)
            session.flush()
            at = now - timedelta(minutes=7 * n + 5)
            senders = ["client", "seller"] if n % answered_every == answered_every - 1 else ["client"]
            for i, sender in enumerate(senders):
                message = Message(chat_id=chat.id, wb_event_id=f"d-{n}-{i}", sender=sender,
                                  text=TEXTS[n % len(TEXTS)] if sender == "client" else "Здравствуйте! Уже выясняем.",
                                  sent_at=at + timedelta(minutes=i))
                session.add(message)
                session.flush()
                record_message(chat, message)
            urgency, sentiment, category, summary = SUMMARIES[n % len(SUMMARIES)]
            store_analysis(session, chat, Analysis(
                chat_id=chat.id, last_message_id=chat.last_message_id, sentiment=sentiment, category=category,
                urgency=urgency, summary=summary, suggested_reply="Здравствуйте! Спасибо, что написали.",
                model="deepseek-v4-flash", prompt_tokens=1, completion_tokens=1))
            made.append(chat.id)
    return made


def rows_in_view(page) -> int:
    """Chat rows whose whole box is inside the viewport, the page scrolled to the top."""
    return page.evaluate("""() => {
        window.scrollTo(0, 0);
        return [...document.querySelectorAll('.chat-row')].filter(row => {
            const box = row.getBoundingClientRect();
            return box.top >= 0 && box.bottom <= window.innerHeight;
        }).length;
    }""")


def test_the_list_shows_8_chats_on_a_desktop_and_4_on_a_phone_pages_back_and_forth_and_filters_on_change(
        live, context):
    from playwright.sync_api import expect

    seller = add_seller(live.app, name="Куртки и пальто")
    add_seller(live.app, name="Пальто и шубы")  # two sellers: the rows name theirs
    add_operator(live.app, "anna@shop.example")
    desktop = open_page(context, live, "anna@shop.example")
    chats = seed_chats(live.app, seller, 30)
    for chat_id in chats[1:30:3]:  # some read, the rest unread
        desktop.goto(live(f"/chats/{chat_id}"))
    seen = {}
    for name, options, image in (("desktop", {}, "inbox.png"), ("phone", {"viewport": PHONE}, "inbox-mobile.png"),
                                 ("Russian desktop", {"locale": "ru-RU"}, "inbox-ru.png"),
                                 ("Russian phone", {"viewport": PHONE, "locale": "ru-RU"}, "inbox-ru-mobile.png")):
        page = context(storage_state=desktop.context.storage_state(), **options).new_page()
        page.goto(live("/?view=all"))
        seen[name] = rows_in_view(page)
        if image:
            shoot(page, image)
    assert min(seen["desktop"], seen["Russian desktop"]) >= 8 and min(seen["phone"], seen["Russian phone"]) >= 4, seen

    # Previous and next pages, with a bounded count.
    desktop.goto(live("/?view=all"))  # "All": the answered chats too (not in "Needs reply")
    expect(desktop.locator(".list-range")).to_have_text("1–25 of 30")
    first_page = desktop.locator(".chat-row").first.get_attribute("data-key")
    desktop.get_by_role("link", name="Next page »").click()
    expect(desktop.locator(".list-range")).to_have_text("26–30 of 30")
    expect(desktop.locator(".chat-row")).to_have_count(5)
    desktop.get_by_role("link", name="« Previous page").click()
    expect(desktop.locator(".list-range")).to_have_text("1–25 of 30")
    assert desktop.locator(".chat-row").first.get_attribute("data-key") == first_page
    expect(desktop.get_by_role("link", name="« Previous page")).to_have_count(0)

    # Filters apply on change: no Apply button (it is for browsers without the script).
    expect(desktop.get_by_role("button", name="Apply")).to_have_count(0)
    desktop.get_by_label("Urgency").select_option("high")
    expect(desktop).to_have_url(re.compile(r"urgency=high"))
    expect(desktop.locator(".list-range")).to_have_text("1–15 of 15")
    desktop.get_by_label("Show").select_option("answered")
    expect(desktop).to_have_url(re.compile(r"show=answered.*urgency=high|urgency=high.*show=answered"))
    expect(desktop.locator(".chat-row")).to_have_count(7)


def open_page(context, live, email: str, **options):
    """Signed in, on the inbox: the operator's first look (what exists now counts as read)."""
    from playwright.sync_api import expect

    page = context(**options).new_page()
    sign_in(page, live, email)
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    return page


def refresh_list(page) -> None:
    """What the list's 15-second timer does, now (inbox.js listens for live:refresh)."""
    page.evaluate("document.querySelector('[data-live-url]').dispatchEvent(new Event('live:refresh'))")


def synced_chats(live, wb_stub, count: int) -> None:
    seller = add_seller(live.app, name="Куртки и пальто")
    wb_stub.valid_tokens.add(WB_TOKEN)
    seed_wb(wb_stub)
    request_sync(resources(live.app), seller)

    def stored():  # the chats, and their messages (stored after the chat list)
        with resources(live.app).db.session() as session:
            return session.query(Chat).filter(Chat.last_buyer_message_id.is_not(None)).count() == count
    assert wait_until(stored, timeout=40)
    return seller


ANSWER = "Здравствуйте! Заказ уже в пути / отправлен вчера, курьер привезёт его завтра?"


def test_the_keyboard_path_from_the_list_to_a_sent_reply(live, worker, context, wb_stub, deepseek_stub):
    from playwright.sync_api import expect

    add_operator(live.app, "anna@shop.example")
    page = open_page(context, live, "anna@shop.example")
    synced_chats(live, wb_stub, 4)
    page.goto(live("/?view=all"))
    links = page.locator(".chat-list .chat-link")
    expect(links).to_have_count(4)

    # j and k move a visible focus ring through the list; Enter opens the focused chat.
    page.keyboard.press("j")
    expect(links.nth(0)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(links.nth(1)).to_be_focused()
    ring = links.nth(1).evaluate("el => [el.matches(':focus-visible'), getComputedStyle(el).outlineStyle]")
    assert ring == [True, "solid"]
    href = links.nth(1).get_attribute("href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live(href))

    # The chat opens with the caret in the reply box and the newest message in view.
    box = page.get_by_label("Your reply")
    expect(box).to_be_focused()
    expect(page.locator(".thread .message").last).to_be_in_viewport()

    # Typing j, k, / or ? in the box types them; Ctrl+Enter sends.
    page.keyboard.press("Control+A")
    page.keyboard.type(ANSWER)
    expect(box).to_have_value(ANSWER)
    expect(page.locator("#keys-help")).not_to_be_visible()
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"\?reply=\d+#replies$"))
    expect(page.locator(".reply-state.reply-sent")).to_contain_text("Sent", timeout=40_000)
    assert wb_stub.delivered(ANSWER) == 1

    # Esc leaves a text box, so that the keys work again; ? shows them, Esc closes that.
    page.get_by_label("Your reply").focus()
    page.keyboard.press("Escape")
    expect(page.get_by_label("Your reply")).not_to_be_focused()
    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).not_to_be_visible()


def test_keys_help_search_and_data_shortcut_buttons(live, context):
    from playwright.sync_api import expect

    seller = add_seller(live.app)
    add_operator(live.app, "anna@shop.example")
    page = open_page(context, live, "anna@shop.example")
    seed_chats(live.app, seller, 3)
    page.goto(live("/"))
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Send the reply")
    time.sleep(0.2)
    shoot(page, "keys-help.png")
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    page.get_by_role("button", name="Keyboard shortcuts").click()  # the same, for the mouse
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).not_to_be_visible()

    # The keys of the other parts of the page: any element with data-shortcut="X" is clicked
    # by X (the Resolve and Assign-to-me buttons carry e and a), and / focuses the search box.
    page.evaluate("""() => {
        const form = document.querySelector('form.filters');
        form.insertAdjacentHTML('beforeend', '<button type="button" data-shortcut="e">Resolve</button>');
        form.querySelector('[data-shortcut]').addEventListener('click', () => { window.resolved = (window.resolved || 0) + 1; });
    }""")
    page.keyboard.press("e")
    assert page.evaluate("window.resolved") == 1
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search chats")  # the inbox's own box
    expect(search).to_be_focused()
    page.keyboard.type("e/j")  # typed into the box, not keys
    expect(search).to_have_value("e/j")
    assert page.evaluate("window.resolved") == 1


def test_unread_chats_are_bold_counted_in_the_title_and_cleared_for_the_one_who_opens_them(
        live, worker, context, wb_stub, deepseek_stub):
    from playwright.sync_api import expect

    add_operator(live.app, "anna@shop.example")
    add_operator(live.app, "boris@shop.example")
    anna = open_page(context, live, "anna@shop.example")
    boris = open_page(context, live, "boris@shop.example")
    shop = synced_chats(live, wb_stub, 4)
    for page in (anna, boris):
        page.goto(live("/?view=all"))
        expect(page.locator(".chat-row.is-unread")).to_have_count(4)
        expect(page).to_have_title("(4) Inbox · Chat center")

    # Anna opens Ирина's chat: read for her, not for Boris.
    irina = anna.locator(".chat-row", has_text="Ирина")
    expect(irina.locator(".unread-count > [aria-hidden]")).to_have_text("1")
    irina.get_by_role("link").click()
    anna.get_by_role("link", name="« Inbox").click()
    expect(anna.locator(".chat-row", has_text="Ирина")).not_to_have_class(re.compile("is-unread"))
    expect(anna.locator(".chat-row", has_text="Ирина").locator(".buyer")).to_have_css("font-weight", "600")
    expect(anna).to_have_title("(3) Inbox · Chat center")
    refresh_list(boris)
    expect(boris.locator(".chat-row", has_text="Ирина")).to_have_class(re.compile("is-unread"))
    expect(boris.locator(".chat-row", has_text="Ирина").locator(".buyer")).to_have_css("font-weight", "800")
    expect(boris).to_have_title("(4) Inbox · Chat center")

    # Ирина writes twice more: her chat is unread again for Anna, with 2, without a reload.
    chat_id = next(c["chatID"] for c in wb_stub.chats if c["clientName"].startswith("Ирина"))
    anna.evaluate("window.notReloaded = true")
    wb_stub.add_event(chat_id, text="Алло?")
    wb_stub.add_event(chat_id, text="Ответьте, пожалуйста!")
    request_sync(resources(live.app), shop)
    row = anna.locator(".chat-row", has_text="Ирина")

    def marked():
        refresh_list(anna)
        return "is-unread" in (row.get_attribute("class") or "")
    assert wait_until(marked, timeout=40, interval=1)
    expect(row.locator(".unread-count > [aria-hidden]")).to_have_text("2")
    expect(anna).to_have_title("(4) Inbox · Chat center")
    refresh_list(boris)
    expect(boris.locator(".chat-row", has_text="Ирина").locator(".unread-count > [aria-hidden]")).to_have_text("3")
    assert anna.evaluate("window.notReloaded") is True
