"""What WB's moderation refuses (links, e-mail addresses, phone numbers, social networks'
names) is caught before a reply is queued, in the API and on the page; the AI's suggestion
holding one is not pre-filled; a reply that was not sent shows its text, to send again or edit."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from chatcenter.models import Analysis, Reply, ReplyState
from chatcenter.moderation import wb_would_refuse
from tests.helpers import add_seller, resources
from tests.inbox_support import add_operator, csrf_token, form_value, sign_in
from tests.test_queries import make_chat


@pytest.fixture
def chat_id(app) -> int:
    return make_chat(app, add_seller(app), 1, buyer_at=1, urgency="high")


@pytest.fixture
def signed_in(app, client):
    add_operator(app)
    sign_in(client)
    return client


def replies(app) -> list[Reply]:
    with resources(app).db.session() as session:
        return list(session.scalars(select(Reply).order_by(Reply.id)))


@pytest.mark.parametrize("text, kinds", [
    ("Позвоните нам: +7 (999) 123-45-67", ["phone"]),
    ("Звоните 8 800 555-35-35 или пишите shop@example.ru", ["email", "phone"]),
    ("Подробности на https://example.com/sale и в нашем телеграм-канале", ["link", "social"]),
    ("Каталог: shop-kurtki.ru", ["link"]),
    ("Пишите в WhatsApp", ["social"]),
    ("Здравствуйте! Заказ 1234567890 уже в пути, трек 80081234567890.", []),
    ("Размер L подойдёт на рост 180 см, т.е. на ваш.", []),
])
def test_what_wb_would_refuse_is_named(text, kinds):
    assert wb_would_refuse(text) == kinds


def test_the_api_answers_400_naming_what_wb_would_refuse_and_queues_nothing(app, api, chat_id, redis_client):
    response = api.post(f"/api/chats/{chat_id}/reply", json={"text": "Звоните: +7 999 123 45 67 или a@b.ru"})
    assert response.status_code == 400
    assert response.get_json() == {"detail": (
        "text: contains an e-mail address and a phone number: WB's moderation refuses links, e-mail addresses, "
        "phone numbers and social networks' names in a seller's message")}
    assert replies(app) == [] and redis_client.keys("rq:job:reply-*") == []


def test_the_page_refuses_it_with_the_reason_and_keeps_the_text(app, signed_in, chat_id):
    page = signed_in.get(f"/chats/{chat_id}").text
    text = "Напишите нам на почту shop@example.ru, ответим быстрее."
    response = signed_in.post(f"/chats/{chat_id}/reply", data={
        "csrf_token": csrf_token(page), "idempotency_key": "key-1", "text": text})
    assert response.status_code == 400
    assert ("Not sent: it contains an e-mail address, and Wildberries refuses links, e-mail addresses, phone "
            "numbers and social networks&#39; names in a seller&#39;s message.") in response.text
    assert re.search(r'<textarea id="reply-text"[^>]*>' + re.escape(text) + "</textarea>", response.text)
    assert replies(app) == []


def test_a_suggestion_wb_would_refuse_is_not_prefilled_and_the_page_says_why(app, signed_in, chat_id):
    with resources(app).db.session() as session:
        session.execute(update(Analysis).values(suggested_reply="Позвоните нам по номеру 8 (800) 555-35-35."))
    page = signed_in.get(f"/chats/{chat_id}").text
    assert re.search(r'<textarea id="reply-text"[^>]*></textarea>', page)
    assert ("The AI&#39;s suggested reply is not pre-filled: it contains a phone number, which Wildberries "
            "refuses in a seller&#39;s message.") in page
    assert "Pre-filled with the AI" not in page


def test_a_reply_not_sent_shows_its_text_to_send_again_or_edit(app, signed_in, chat_id):
    text = "Здравствуйте! Вернём деньги в течение трёх дней."
    with resources(app).db.session() as session:
        failed = Reply(chat_id=chat_id, text=text, state=ReplyState.FAILED, requested_by="operator:1",
                       error="WB API POST /api/v1/seller/message answered 400: сообщение отклонено модерацией")
        unconfirmed = Reply(chat_id=chat_id, text="Второй ответ", state=ReplyState.UNCONFIRMED,
                            requested_by="operator:1", error="WB's answer was lost (...)")
        session.add_all([failed, unconfirmed])
        session.flush()
        failed_id, unconfirmed_id = failed.id, unconfirmed.id
    thread = signed_in.get(f"/live/chats/{chat_id}/thread").text
    assert "Your reply: Not sent" in thread and "сообщение отклонено модерацией" in thread
    assert f'<blockquote class="reply-text">{text}</blockquote>' in thread
    assert "Your reply: Not confirmed yet" in thread and "Второй ответ" in thread
    assert thread.count(">Send again</button>") == 1  # an unconfirmed one may have arrived: not by hand
    assert f"/chats/{chat_id}?edit={failed_id}#reply-text" in thread
    assert f"/chats/{chat_id}?edit={unconfirmed_id}#reply-text" in thread

    edited = signed_in.get(f"/chats/{chat_id}?edit={failed_id}").text
    assert re.search(r'<textarea id="reply-text"[^>]*>' + re.escape(text) + "</textarea>", edited)

    again = {"csrf_token": csrf_token(thread), "idempotency_key": form_value(thread, "idempotency_key"),
             "text": text}
    assert again["idempotency_key"] == f"again-{failed_id}"
    first = signed_in.post(f"/chats/{chat_id}/reply", data=again)
    second = signed_in.post(f"/chats/{chat_id}/reply", data=again)  # a double click: one new reply
    assert first.status_code == second.status_code == 302
    assert [(r.text, r.state) for r in replies(app)][2:] == [(text, "queued")]
