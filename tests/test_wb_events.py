"""Cleaning WB events before storing: what is normalised, what is set aside and why."""
from __future__ import annotations

import math

import pytest

from chatcenter.clients.wb import MAX_RETRY_SECONDS, retry_seconds
from chatcenter.wb_events import SetAside, clean_chats, clean_event, clean_page, safe_id

NOW = 1_790_000_000_000


def event(**fields) -> dict:
    base = {"chatID": "1:abc", "eventID": "ev-1", "eventType": "message", "isNewChat": False,
            "addTimestamp": NOW - 1000, "sender": "client", "clientName": "Анна",
            "message": {"text": "Где мой заказ?"}}
    return {**base, **fields}


def test_a_plain_event_is_kept_as_it_is():
    cleaned = clean_event(event(), NOW)
    assert (cleaned.chat_id, cleaned.event_id, cleaned.sender, cleaned.text) == ("1:abc", "ev-1", "client",
                                                                                 "Где мой заказ?")
    assert cleaned.sent_at.year == 2026


@pytest.mark.parametrize("text, stored", [
    ("до\x00после", "допосле"),        # PostgreSQL refuses NUL in text
    ("до\ud800после", "допосле"),      # no driver can encode a lone surrogate
    ("смайл 😀", "смайл 😀"),           # a real pair stays
])
def test_unstorable_characters_are_removed_from_texts(text, stored):
    assert clean_event(event(message={"text": text}), NOW).text == stored


def test_unstorable_characters_are_removed_from_names_and_attachments():
    cleaned = clean_event(event(clientName="Ан\x00на", message={"text": "", "attachments": {"images": ["a\ud800"]}}),
                          NOW)
    assert cleaned.client_name == "Анна" and cleaned.attachments == {"images": ["a"]}


def test_a_message_sent_as_a_bare_string_is_read_as_its_text():
    assert clean_event(event(message="просто текст"), NOW).text == "просто текст"


def test_display_values_longer_than_their_column_are_cut_and_a_long_reply_sign_is_dropped():
    cleaned = clean_event(event(clientName="я" * 500, isNewChat=True, replySign="s" * 300), NOW)
    assert cleaned.client_name == "я" * 200
    assert cleaned.reply_sign is None  # a cut sign would be refused by WB


@pytest.mark.parametrize("fields, kind", [
    ({"chatID": "c" * 101}, "chatID too long"),
    ({"eventID": "e" * 101}, "eventID too long"),
    ({"chatID": None}, "chatID missing"),
    ({"eventID": "\x00"}, "eventID missing"),
    ({"sender": "s" * 21}, "sender too long"),
    ({"sender": 5}, "sender not a string"),
    ({"addTimestamp": 10**17}, "addTimestamp out of range"),
    ({"addTimestamp": 1e17}, "addTimestamp out of range"),
    ({"addTimestamp": -5}, "addTimestamp out of range"),
    ({"addTimestamp": "вчера"}, "addTimestamp not an integer"),
    ({"addTimestamp": math.nan}, "addTimestamp not an integer"),
    ({"message": ["not", "an", "object"]}, "message not an object"),
    ({"message": {"text": {"nested": 1}}}, "message text not a string"),
])
def test_events_that_cannot_be_stored_are_set_aside_with_a_kind(fields, kind):
    with pytest.raises(SetAside) as info:
        clean_event(event(**fields), NOW)
    assert info.value.kind == kind


def test_a_page_keeps_the_good_events_and_names_the_bad_ones_by_id_only():
    page = clean_page([event(eventID="ok-1"), event(eventID="bad-1", addTimestamp=10**17), "junk",
                       event(eventID="секретный текст покупателя" * 10), event(eventID="ok-2")], NOW)
    assert [e.event_id for e in page.events] == ["ok-1", "ok-2"]
    assert [(e.event_id, e.kind) for e in page.set_aside] == [
        ("bad-1", "addTimestamp out of range"), ("(no usable id)", "event not an object"),
        ("(no usable id)", "eventID too long")]
    again = clean_page([event(eventID="bad-1", addTimestamp=10**17)], NOW)
    assert again.set_aside[0].digest == page.set_aside[0].digest  # the same event re-read counts once


def test_safe_id_never_returns_free_text():
    assert safe_id({"eventID": "Позвоните мне +79001234567"}) == "(no usable id)"
    assert safe_id({"eventID": 12345}) == "12345"


def test_chat_list_entries_are_cleaned_and_unusable_ones_counted():
    chats, set_aside = clean_chats([
        {"chatID": "1:a", "clientName": "Ан\x00на", "replySign": "sign", "goodCard": {"nmID": 1},
         "lastMessage": {"addTimestamp": 10**17}},
        {"chatID": "x" * 300},
        "junk",
    ], NOW)
    assert set_aside == 2
    [chat] = chats
    assert (chat.chat_id, chat.client_name, chat.reply_sign, chat.last_message_ms) == ("1:a", "Анна", "sign", None)


@pytest.mark.parametrize("value, seconds", [
    ("3", 3.0), ("0", 0.0), ("2.5", 2.5), (str(MAX_RETRY_SECONDS), MAX_RETRY_SECONDS),
    ("1e9", 1.0), ("1e300", 1.0), ("inf", 1.0), ("nan", 1.0),
    ("-5", 1.0), ("soon", 1.0), ("", 1.0),
])
def test_retry_after_headers_are_bounded_and_garbage_means_the_default_wait(value, seconds):
    assert retry_seconds({"X-Ratelimit-Retry": value}) == seconds
