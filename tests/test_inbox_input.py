"""Outside input never makes the inbox answer 500 (issue 28 §4): link targets with line
breaks, Unicode digits, ids past the database's integer range, and WB product prices no
decimal arithmetic can format. Each gives a 4xx or a normal page."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from chatcenter.models import Chat
from tests.helpers import add_seller, resources
from tests.inbox_support import add_operator, csrf_token, sign_in
from tests.test_queries import make_chat

TOO_BIG = "99999999999999999999"


@pytest.fixture
def signed_in(app, client):
    add_operator(app)
    assert sign_in(client).status_code == 302
    return client


@pytest.mark.parametrize("target", ["/%0d%0a", "/%0d%0aSet-Cookie:%20x=1", "/%0a", "/%00"])
def test_a_link_target_with_a_line_break_goes_to_the_inbox(app, client, target):
    response = client.get(f"/language/en?next={target}")
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    add_operator(app)
    page = client.get(f"/login?next={target}")
    assert page.status_code == 200
    response = client.post(f"/login?next={target}", data={
        "csrf_token": csrf_token(page.text), "email": "anna@shop.example", "password": "correct horse battery staple"})
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    assert "Set-Cookie: x" not in str(response.headers)
    assert client.get(f"/login?next={target}").headers["Location"] == "/"  # signed in: straight on


@pytest.mark.parametrize("path", ["/?seller=²", "/?seller=" + TOO_BIG, "/?seller=-1", "/?seller=0",
                                  "/live/inbox?seller=²", "/chats/{chat}?before=²", "/chats/{chat}?reply=²",
                                  "/chats/{chat}?before=" + TOO_BIG, "/live/chats/{chat}/thread?before=²"])
def test_a_number_that_is_not_an_id_is_a_400_page(app, signed_in, path):
    chat = make_chat(app, add_seller(app), 1, buyer_at=1)
    response = signed_in.get(path.format(chat=chat))
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "must be a whole number from 1 to 2147483647" in response.text


@pytest.mark.parametrize("path", ["/chats/" + TOO_BIG, "/live/chats/" + TOO_BIG + "/thread",
                                  "/live/chats/" + TOO_BIG + "/analysis", "/chats/2147483648"])
def test_an_id_past_the_databases_range_is_a_404_page(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    post = signed_in.post("/sellers/" + TOO_BIG + "/sync",
                          data={"csrf_token": csrf_token(signed_in.get("/sellers").text)})
    assert post.status_code == 404


@pytest.mark.parametrize("price, shown", [(1e308, "1e+308"), (10**30, "1e+30"), (-(10**30), "-1e+30"),
                                          (1490, "1,490")])
def test_a_price_no_shop_asks_is_shown_as_written(app, signed_in, price, shown):
    chat = make_chat(app, add_seller(app), 1, buyer_at=1)
    with resources(app).db.session() as session:
        session.execute(update(Chat).where(Chat.id == chat).values(
            good_card={"nmID": 1001, "price": price, "priceCurrency": ["RUB"]}))
    for path in ("/", f"/chats/{chat}", "/live/inbox"):
        response = signed_in.get(path + "?lang=en")
        assert response.status_code == 200, path
        assert shown in response.text


def test_a_price_that_is_not_a_finite_number_is_not_shown():
    # PostgreSQL's JSON cannot store it, SQLite's can (Python's json reads "Infinity").
    from chatcenter.web.inbox.present import money

    assert [money(value, "RUB", "en") for value in (float("inf"), float("nan"), True, "12")] == ["", "", "", ""]
