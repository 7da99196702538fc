"""GET /api/openapi.json: the OpenAPI 3.1 document of the operators' API and the health
routes (not the DEBUG-only diagnostics).

Written by hand, from the same constants the code uses (limits, enums, states), and kept
true by tests/test_api_openapi.py: its paths and methods must equal the app's URL map,
and every answer the API tests get must match its schemas.
"""
from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, jsonify

from chatcenter.actions import IDEMPOTENCY_KEY_MAX, REPLY_MAX
from chatcenter.models import ReplyState, SyncState
from chatcenter.observability.release import __version__
from chatcenter.prompt import CATEGORIES, SENTIMENTS, URGENCIES
from chatcenter.queries import JOB_STATUSES, MAX_LIMIT, ORDERS, PREVIEW_MAX
from chatcenter.queues import JOB_KINDS
from chatcenter.web.api.chats import CURSOR_MAX, DEFAULT_LIMIT
from chatcenter.web.api.inputs import BODY_MAX, ID_MAX, query

bp = Blueprint("openapi", __name__)

JSON = "application/json"
DATE_TIME = {"type": "string", "format": "date-time"}


def _values(holder) -> list[str]:
    return [value for name, value in vars(holder).items() if name.isupper()]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _object(properties: dict, required: list[str] | None = None, **extra) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, **extra}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    answer = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str) -> dict:
    return {"$ref": f"#/components/responses/{description}"}


ID = {"type": "integer", "minimum": 1, "maximum": ID_MAX}
JOB_ID_PATTERN = "^(?:%s)-[0-9]+$" % "|".join(kind.id_prefix for kind in JOB_KINDS)
# The reply's text: 1 to REPLY_MAX characters once leading and trailing white space is
# trimmed, no NUL. (A pattern says it exactly, so a fuzzer's "valid" text is valid.)
REPLY_TEXT_PATTERN = (r"^\s*[^\s\u0000](?:[^\u0000]{0,%d}[^\s\u0000])?\s*$" % (REPLY_MAX - 2))

SCHEMAS = {
    "Error": _object({
        "detail": {"type": "string", "description": "What was wrong; starts with the field at fault, if any"},
        "job_id": {"type": "string", "description": "409 only: the job already queued or running"},
    }, required=["detail"], additionalProperties=False),
    "Seller": _object({
        "id": ID,
        "name": {"type": "string"},
        "active": {"type": "boolean"},
        "sync_state": {"enum": _values(SyncState)},
        "last_synced_at": _nullable(DATE_TIME),
        "last_error": _nullable({"type": "string"}),
        "set_aside_events": {"type": "integer", "minimum": 0,
                             "description": "WB events that could not be stored and were skipped"},
    }, additionalProperties=False),
    "Product": _object({key: {"description": "as WB gives it"} for key in ("nmID", "price", "priceCurrency", "size")},
                       additionalProperties=False),
    "MessagePreview": _object({
        "id": ID,
        "sender": {"type": "string", "description": "client (the buyer), seller or wb"},
        "text": {"type": "string", "description": f"at most {PREVIEW_MAX} characters and an ellipsis"},
        "attachments": {"type": "null"},
        "sent_at": DATE_TIME,
    }, additionalProperties=False),
    "Message": _object({
        "id": ID,
        "sender": {"type": "string", "description": "client (the buyer), seller or wb"},
        "text": {"type": "string"},
        "attachments": {"description": "WB's attachments (goodCard, files, images) or null"},
        "sent_at": DATE_TIME,
    }, additionalProperties=False),
    "Analysis": _object({
        "id": ID,
        "sentiment": {"enum": list(SENTIMENTS)},
        "category": {"enum": list(CATEGORIES)},
        "urgency": {"enum": list(URGENCIES)},
        "summary": {"type": "string"},
        "suggested_reply": {"type": "string"},
        "model": {"type": "string"},
        "covers_message_id": {**ID, "description": "the newest message the analysis read"},
        "created_at": DATE_TIME,
    }, additionalProperties=False),
    "ChatSummary": _object({
        "id": ID,
        "seller_id": ID,
        "buyer_first_name": _nullable({"type": "string"}),
        "product": _nullable(_ref("Product")),
        "awaiting_reply": {"type": "boolean"},
        "waiting_since": _nullable({**DATE_TIME, "description": "the oldest unanswered buyer message"}),
        "last_activity_at": DATE_TIME,
        "last_message": _nullable(_ref("MessagePreview")),
        "analysis": _nullable(_ref("Analysis")),
    }, additionalProperties=False),
    "ChatPage": _object({
        "chats": {"type": "array", "items": _ref("ChatSummary")},
        "next_cursor": _nullable({"type": "string", "description": "pass as `cursor` for the next page"}),
    }, additionalProperties=False),
    "PendingReply": _object({
        "id": ID,
        "state": {"enum": _values(ReplyState)},
        "error": _nullable({"type": "string"}),
        "message_id": _nullable(ID),
        "created_at": DATE_TIME,
        "sent_at": _nullable(DATE_TIME),
    }, additionalProperties=False),
    "ChatDetail": _object({
        "id": ID,
        "seller_id": ID,
        "buyer_first_name": _nullable({"type": "string"}),
        "product": _nullable({"type": "object", "description": "WB's product card (nmID, price, size, ...)"}),
        "awaiting_reply": {"type": "boolean"},
        "waiting_since": _nullable(DATE_TIME),
        "last_activity_at": DATE_TIME,
        "last_message": _nullable(_ref("MessagePreview")),
        "analysis": _nullable(_ref("Analysis")),
        "messages": {"type": "array", "items": _ref("Message"), "description": "oldest first"},
        "messages_before": _nullable({**ID, "description": "pass as `before` for the older messages"}),
        "pending_replies": {"type": "array", "items": _ref("PendingReply"),
                            "description": "the newest replies not sent (yet): queued, sending or failed"},
    }, additionalProperties=False),
    "JobAccepted": _object({"job_id": {"type": "string"}}, additionalProperties=False),
    "ReplyAccepted": _object({
        "job_id": {"type": "string"},
        "reply_id": ID,
        "state": {"enum": _values(ReplyState), "description": "the reply's state now"},
    }, additionalProperties=False),
    "Job": _object({
        "id": {"type": "string"},
        "kind": {"enum": [kind.func.rsplit(".", 1)[-1] for kind in JOB_KINDS]},
        "status": {"enum": list(JOB_STATUSES),
                   "description": "retrying: an attempt failed (reason) and the next is due at retry_at"},
        "result": {"description": "finished jobs: what the job returned"},
        "reason": {"type": "string", "description": "failed and retrying jobs: a short public reason"},
        "retry_at": {"type": ["string", "null"], "format": "date-time",
                     "description": "retrying jobs: when the next attempt is due"},
    }, required=["id", "kind", "status"], additionalProperties=False),
    "SellerList": _object({"sellers": {"type": "array", "items": _ref("Seller")}}, additionalProperties=False),
    "EmptyObject": {"type": "object", "maxProperties": 0,
                    "description": "no parameters: send no body, or {}"},
    "ReplyRequest": _object({
        "text": {"type": "string", "pattern": REPLY_TEXT_PATTERN,
                 "description": f"1 to {REPLY_MAX} characters after trimming; no NUL characters"},
    }, additionalProperties=False),
    "Liveness": _object({"status": {"const": "ok"}}, additionalProperties=False),
    "Readiness": _object({
        "status": {"enum": ["ready", "unavailable"]},
        "checks": {"type": "object", "additionalProperties": _object(
            {"ok": {"type": "boolean"}, "error": {"type": "string"}}, required=["ok"], additionalProperties=False)},
        "sentry": _object({"enabled": {"type": "boolean"}, "environment": {"type": "string"}},
                          additionalProperties=False),
    }, additionalProperties=False),
}

LOCATION = {"Location": {"description": "where to follow the job: /api/jobs/<job_id>",
                         "schema": {"type": "string"}, "required": True}}
RESPONSES = {
    "BadRequest": _json(_ref("Error"), "Bad input: a parameter, header or body field (named first in the detail) "
                                       "is wrong, unknown or missing; or the body is not a JSON object"),
    "Unauthorized": _json(_ref("Error"), "No API key, not a Bearer credential, an unknown or a revoked key",
                          {"WWW-Authenticate": {"description": 'Bearer realm="chatcenter"[, error="..."]',
                                                "schema": {"type": "string"}, "required": True}}),
    "NotFound": _json(_ref("Error"), "No such seller, chat or job"),
    "TooLarge": _json(_ref("Error"), f"The body is larger than {BODY_MAX} bytes"),
    "QueueUnavailable": _json(_ref("Error"), "The job queue (Redis) is unavailable: try again",
                              {"Retry-After": {"description": "seconds", "schema": {"type": "string"},
                                               "required": True}}),
}

KEY_REQUIRED = {"401": _error("Unauthorized")}


def _path_id(name: str, what: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID, "description": f"the {what}'s id"}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _no_body() -> dict:
    return {"required": False, "content": {JSON: {"schema": _ref("EmptyObject")}}}


def _enqueue_answers(what: str, also_conflict: str = "") -> dict:
    return {
        "202": _json(_ref("JobAccepted"), f"{what} enqueued", LOCATION),
        "400": _error("BadRequest"), **KEY_REQUIRED, "404": _error("NotFound"),
        "409": _json(_ref("Error"), f"{what} is already queued or running (job_id names it){also_conflict}"),
        "413": _error("TooLarge"), "503": _error("QueueUnavailable"),
    }


PATHS = {
    "/api/health": {"get": {
        "summary": "Liveness (no I/O)", "tags": ["health"], "security": [],
        "responses": {"200": _json(_ref("Liveness"), "The process answers")},
    }},
    "/api/health/ready": {"get": {
        "summary": "Readiness: database and Redis answer (1 s each)", "tags": ["health"], "security": [],
        "responses": {"200": _json(_ref("Readiness"), "Ready"), "503": _json(_ref("Readiness"), "Not ready")},
    }},
    "/api/openapi.json": {"get": {
        "summary": "This document", "tags": ["meta"],
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}},
                      "400": _error("BadRequest"), **KEY_REQUIRED},
    }},
    "/api/sellers": {"get": {
        "summary": "Sellers with their sync state (never their WB token)", "tags": ["sellers"],
        "responses": {"200": _json(_ref("SellerList"), "All sellers, by id"), "400": _error("BadRequest"),
                      **KEY_REQUIRED},
    }},
    "/api/sellers/{seller_id}/sync": {"post": {
        "summary": "Sync a seller's chats from WB now", "tags": ["sellers"],
        "parameters": [_path_id("seller_id", "seller")],
        "requestBody": _no_body(),
        "responses": _enqueue_answers("A sync"),
    }},
    "/api/chats": {"get": {
        "summary": "Chats, newest activity first (or the inbox order), in pages",
        "description": "Keyset pagination: pass `next_cursor` as `cursor` with the same filters and order; "
                       "chats arriving meanwhile never make a page skip or repeat one. Each chat comes with "
                       "a preview of its last message and its latest analysis (or null).",
        "tags": ["chats"],
        "parameters": [
            _query("seller_id", ID, "only this seller's chats"),
            _query("awaiting_reply", {"type": "boolean"}, "true: only chats whose buyer waits for an answer"),
            _query("sentiment", {"enum": list(SENTIMENTS)}, "of the latest analysis"),
            _query("urgency", {"enum": list(URGENCIES)}, "of the latest analysis"),
            _query("category", {"enum": list(CATEGORIES)}, "of the latest analysis"),
            _query("order", {"enum": list(ORDERS), "default": "activity"},
                   "activity: newest activity first; queue: awaiting a reply first (high urgency, longest "
                   "wait), then the rest by activity"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                   "chats per page"),
            _query("cursor", {"type": "string", "minLength": 1, "maxLength": CURSOR_MAX},
                   "the previous page's next_cursor (same filters and order)"),
        ],
        "responses": {"200": _json(_ref("ChatPage"), "One page of chats"), "400": _error("BadRequest"),
                      **KEY_REQUIRED},
    }},
    "/api/chats/{chat_id}": {"get": {
        "summary": "A chat: its product card, a page of its messages (oldest first), its latest analysis",
        "tags": ["chats"],
        "parameters": [
            _path_id("chat_id", "chat"),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                   "messages per page (the newest ones)"),
            _query("before", ID, "the previous page's messages_before: the messages older than it"),
        ],
        "responses": {"200": _json(_ref("ChatDetail"), "The chat"), "400": _error("BadRequest"),
                      **KEY_REQUIRED, "404": _error("NotFound")},
    }},
    "/api/chats/{chat_id}/analysis": {"post": {
        "summary": "Have DeepSeek analyse the chat again",
        "tags": ["chats"],
        "parameters": [_path_id("chat_id", "chat")],
        "requestBody": _no_body(),
        "responses": _enqueue_answers("An analysis", "; or analysis is off (DEEPSEEK_API_KEY is empty)"),
    }},
    "/api/chats/{chat_id}/reply": {"post": {
        "summary": "Answer the buyer: the text is sent to WB by a job, once",
        "description": "The job sends the text with the chat's reply sign and stores it as a seller message "
                       "once WB accepts it. With an Idempotency-Key, the same key (from the same API key) "
                       "within 24 h names the same reply: the answer is the first request's, nothing is "
                       "sent twice, and `Idempotent-Replayed: true` says so.",
        "tags": ["chats"],
        "parameters": [
            _path_id("chat_id", "chat"),
            {"name": "Idempotency-Key", "in": "header", "required": False,
             "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,%d}$" % IDEMPOTENCY_KEY_MAX},
             "description": f"1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters, e.g. a UUID"},
        ],
        "requestBody": {"required": True, "content": {JSON: {"schema": _ref("ReplyRequest")}}},
        "responses": {
            "202": _json(_ref("ReplyAccepted"), "The reply is recorded and its sending enqueued", LOCATION),
            "400": _error("BadRequest"), **KEY_REQUIRED, "404": _error("NotFound"),
            "413": _error("TooLarge"),
            "422": _json(_ref("Error"), "The Idempotency-Key was used for another reply within 24 h"),
            "503": _error("QueueUnavailable"),
        },
    }},
    "/api/jobs/{job_id}": {"get": {
        "summary": "A job's state: queued, started, finished (with its result) or failed (with a reason)",
        "description": "Only this service's jobs (sync-seller-N, analyze-chat-N, reply-N); finished jobs are "
                       "kept an hour, failed ones a week.",
        "tags": ["jobs"],
        "parameters": [{"name": "job_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": JOB_ID_PATTERN}}],
        "responses": {"200": _json(_ref("Job"), "The job"), "400": _error("BadRequest"), **KEY_REQUIRED,
                      "404": _error("NotFound"), "503": _error("QueueUnavailable")},
    }},
}


@lru_cache(maxsize=1)
def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatcenter operators' API",
            "version": __version__,
            "description": "Read buyers' chats and their AI analyses, trigger syncs and analyses, answer "
                           "buyers, and follow each job to its end. Every route but the health checks needs "
                           "`Authorization: Bearer <API key>` (`flask --app chatcenter api-keys create NAME`). "
                           "Every error is JSON `{\"detail\": \"...\"}`. Unknown query parameters and body "
                           "fields are refused (400).",
        },
        "security": [{"apiKey": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "An API key: cc_ and 43 characters"}},
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }


@bp.get("/openapi.json")
def openapi():
    query()
    return jsonify(document())
