"""Helpers for the inbox tests (views and browser): operators, signing in, CSRF tokens."""
from __future__ import annotations

import re

from chatcenter.operators import create_operator
from tests.helpers import resources

PASSWORD = "correct horse battery staple"


def add_operator(app, email="anna@shop.example", password=PASSWORD) -> int:
    with resources(app).db.session() as session:
        operator = create_operator(session, email, password)
        session.flush()
        return operator.id


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


def sign_in(client, email="anna@shop.example", password=PASSWORD, **headers):
    page = client.get("/login", headers=headers)
    return client.post("/login", data={"csrf_token": csrf_token(page.text), "email": email,
                                       "password": password, "next": "/"}, headers=headers)
