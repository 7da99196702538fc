"""A test client for the operators' API that checks every answer against the OpenAPI
document the app itself serves: the status must be documented for the route, and the
body (and required headers) must match. Used by every API test, so the document is
checked against real answers, not examples.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import HTTPException

from chatcenter import api_keys
from tests.helpers import resources

DOC_URI = "urn:chatcenter:openapi"
UNSET = object()


def openapi_path(rule: str) -> str:
    """Flask's `/api/chats/<int:chat_id>` is OpenAPI's `/api/chats/{chat_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


class OpenAPIChecker:
    """Checks answers against the document the app serves (made from the first app it sees)."""

    def __init__(self, source):
        self.source = source  # app -> document
        self.doc: dict | None = None
        self.checked: list[tuple[str, str, int]] = []  # (path, method, status)

    def load(self, app) -> None:
        if self.doc is None:
            self.doc = self.source(app)
            self.registry = Registry().with_resource(DOC_URI, Resource.from_contents(self.doc, DRAFT202012))

    def _resolve(self, node: dict) -> tuple[dict, list[str]]:
        """A response object and its JSON pointer parts, following one $ref."""
        ref = node.get("$ref")
        if ref is None:
            return node, []
        parts = ref.removeprefix("#/").split("/")
        found = self.doc
        for part in parts:
            found = found[part]
        return found, parts

    def check(self, app, method: str, url: str, response) -> None:
        self.load(app)
        path = urlsplit(url).path
        try:
            rule, _ = app.url_map.bind("localhost").match(path, method=method, return_rule=True)
        except HTTPException:
            assert response.status_code in (404, 405), (method, path, response.status_code)
            assert set(response.get_json()) == {"detail"}
            return
        route = openapi_path(rule.rule)
        operation = self.doc["paths"][route][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {route} answered {status}, not in the document: {response.get_data(as_text=True)[:300]}")
        answer, ref_parts = self._resolve(operation["responses"][status])
        base = ref_parts or ["paths", route, method.lower(), "responses", status]
        for name, header in (answer.get("headers") or {}).items():
            if header.get("required"):
                assert name in response.headers, f"{method} {route} {status}: no {name} header"
        if "content" not in answer:  # 204: documented with no body, and none sent
            assert not response.get_data(), f"{method} {route} {status}: a body where none is documented"
            self.checked.append((route, method.upper(), response.status_code))
            return
        if "application/json" not in answer["content"]:  # a file: one of the documented types
            assert response.mimetype in answer["content"], (method, route, status, response.mimetype)
            self.checked.append((route, method.upper(), response.status_code))
            return
        assert response.mimetype == "application/json", (method, route, status, response.mimetype)
        pointer = _pointer(*base, "content", "application/json", "schema")
        validator = Draft202012Validator({"$ref": f"{DOC_URI}#/{pointer}"}, registry=self.registry,
                                         format_checker=FormatChecker())
        errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.path))
        assert not errors, f"{method} {route} {status} does not match the document: " + "; ".join(
            f"{list(e.path)}: {e.message}" for e in errors[:5])
        self.checked.append((route, method.upper(), response.status_code))


class ApiClient:
    """app.test_client() with the API key sent and every answer checked."""

    def __init__(self, app, key: str | None, checker: OpenAPIChecker):
        self.app, self.key, self.checker = app, key, checker
        self.client = app.test_client()

    def open(self, method: str, url: str, *, key=UNSET, headers=None, **kwargs):
        headers = dict(headers or {})
        key = self.key if key is UNSET else key
        if key is not None and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {key}"
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        self.checker.check(self.app, method, url, response)
        return response

    def get(self, url: str, **kwargs):
        return self.open("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.open("POST", url, **kwargs)

    def patch(self, url: str, **kwargs):
        return self.open("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs):
        return self.open("DELETE", url, **kwargs)


def create_key(app, name: str = "tests") -> api_keys.CreatedKey:
    with resources(app).db.session() as session:
        return api_keys.create(session, name)
