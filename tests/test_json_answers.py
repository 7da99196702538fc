"""The JSON answers (orjson) mean what Flask's own provider wrote: same values, keys in the
order written, a final newline; what orjson would write differently goes to Flask's code."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from flask.json.provider import DefaultJSONProvider


@dataclass
class Point:
    x: int
    y: int


VALUES = [
    {"status": "ok", "message": "keys stay in the order written", "a": 1},
    {"name": "Анна", "text": "emoji 😀, quotes \" and \\ and \u2028"},
    {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "point": Point(1, 2)},
    {"big": 2**70, "negative": -(2**70)},
    {"1": "string key", "list": [1, 2.5, None, True, False, []]},
    [1, "two", {"three": 3}],
]


@pytest.mark.parametrize("value", VALUES)
def test_an_answer_is_the_json_flask_would_write(app, value):
    flask_json = DefaultJSONProvider(app)
    flask_json.sort_keys = False
    with app.test_request_context():
        ours = app.json.response(value)
        theirs = flask_json.response(value)
    assert ours.mimetype == theirs.mimetype == "application/json"
    assert ours.get_data().endswith(b"\n")
    assert json.dumps(json.loads(ours.get_data())) == json.dumps(json.loads(theirs.get_data()))


def test_non_string_keys_and_other_refusals_are_flasks(app):
    with app.test_request_context():
        assert json.loads(app.json.response({1: "a"}).get_data()) == {"1": "a"}
        with pytest.raises(TypeError):
            app.json.response({"a set": {1, 2}})


def test_text_is_utf8_not_escaped(app):
    with app.test_request_context():
        assert app.json.response(name="Анна").get_data() == '{"name":"Анна"}\n'.encode()


def test_the_api_writes_raw_utf_8_as_the_readme_says(app, api):
    # README "Routes": non-ASCII text as it is ("Анна"), not as \uXXXX escapes.
    from tests.helpers import add_seller
    from tests.test_queries import make_chat

    make_chat(app, add_seller(app), 1, buyer_at=1, name="Анна Петрова")
    body = api.get("/api/chats").get_data()
    assert "Анна".encode("utf-8") in body and b"\\u04" not in body
