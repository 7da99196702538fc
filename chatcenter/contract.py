"""The shapes of what operators read, declared once: chatcenter.queries builds exactly these
(as plain dicts, which the inbox, the CLI and the API share), the API writes them as JSON,
and /api/openapi.json describes them from these declarations (pydantic's JSON Schema).

Rows are TypedDicts, not models: a page of 50 chats is built as dicts and written by
orjson, with no per-row validation or conversion on the way (that would cost about a tenth
of the request). The API tests check every real answer against the generated document.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from typing_extensions import NotRequired, TypedDict

from chatcenter.chat_status import CHANGE_KINDS, STATUSES
from chatcenter.models import AttachmentState, ReplyState, SyncState
from chatcenter.prompt import CATEGORIES, SENTIMENTS, URGENCIES
from chatcenter.queues import JOB_KINDS

ID_MAX = 2**31 - 1  # ids are 32-bit integers in PostgreSQL: a larger one cannot exist
PREVIEW_MAX = 200  # characters of the last message shown in a list
# retrying: an attempt failed (reason) and the next is due at retry_at (chatcenter/job_attempts.py)
JOB_STATUSES = ("queued", "retrying", "started", "finished", "failed")
CLOSED = ConfigDict(extra="forbid")  # answers hold the fields declared, no other


def _values(holder) -> tuple[str, ...]:
    return tuple(value for name, value in vars(holder).items() if name.isupper())


Id = Annotated[int, Field(ge=1, le=ID_MAX)]
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]  # ISO 8601 with its offset
Sender = Annotated[str, Field(description="client (the buyer), seller or wb")]


class Seller(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    name: str
    active: bool
    sync_state: Literal[_values(SyncState)]
    last_synced_at: Time | None
    last_error: str | None
    set_aside_events: Annotated[int, Field(ge=0, description="WB events that could not be stored and were skipped")]


class Product(TypedDict):
    __pydantic_config__ = CLOSED
    nmID: Annotated[Any, Field(description="as WB gives it")]
    price: Annotated[Any, Field(description="as WB gives it")]
    priceCurrency: Annotated[Any, Field(description="as WB gives it")]
    size: Annotated[Any, Field(description="as WB gives it")]


class MessagePreview(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    sender: Sender
    text: Annotated[str, Field(description=f"at most {PREVIEW_MAX} characters and an ellipsis")]
    attachments: None
    sent_at: Time


class Attachment(TypedDict):
    """A photo, a file or a product card of a message. Files are served from this API's own
    URL (url, with the API key) once stored; the product card's url is WB's product page."""
    __pydantic_config__ = CLOSED
    kind: Annotated[Literal["image", "file", "product"], Field(description="product: WB's product card")]
    name: Annotated[str | None, Field(description="the file's name (a product: its nmID), or null")]
    content_type: Annotated[str | None, Field(description="image/jpeg, image/png or application/pdf once "
                                                          "stored; what WB announced before; null for a product")]
    size: Annotated[int | None, Field(ge=0, description="bytes (as WB announced it until it is stored), or null")]
    state: Annotated[Literal[_values(AttachmentState)], Field(
        description="pending: not fetched from WB yet; moderation: WB is still moderating it; ready: url serves "
                    "it; refused: too large or not the type announced, never served")]
    url: Annotated[str | None, Field(description="/api/chats/<chat_id>/attachments/<download_id> (a product: "
                                                 "its page on WB)")]


class Message(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    sender: Sender
    text: str
    attachments: Annotated[list[Attachment], Field(description="photos, files and the product card; [] when none")]
    sent_at: Time


class Analysis(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    sentiment: Literal[SENTIMENTS]
    category: Literal[CATEGORIES]
    urgency: Literal[URGENCIES]
    summary: str
    suggested_reply: str
    model: str
    covers_message_id: Annotated[int, Field(ge=1, le=ID_MAX, description="the newest message the analysis read")]
    created_at: Time


class Person(TypedDict):
    """An operator: the name is the e-mail they sign in with."""
    __pydantic_config__ = CLOSED
    id: Id
    name: str


class Actor(TypedDict):
    """Who did something: an operator, an API key (by its name), the command line, or the
    buyer (whose new message reopened the chat)."""
    __pydantic_config__ = CLOSED
    kind: Literal["operator", "api_key", "cli", "buyer"]
    id: Annotated[Id | None, Field(description="the operator's or the API key's id")]
    name: Annotated[str | None, Field(description="the operator's e-mail or the API key's name")]


class ChatChange(TypedDict):
    """A change of the chat's status or assignee."""
    __pydantic_config__ = CLOSED
    id: Id
    kind: Literal[CHANGE_KINDS]
    by: Actor
    assignee: Annotated[Person | None, Field(description="assigned: to whom")]
    snoozed_until: Annotated[Time | None, Field(description="snoozed: until when")]
    at: Time


class Note(TypedDict):
    """An internal note: seen by operators only, never sent to WB or DeepSeek."""
    __pydantic_config__ = CLOSED
    id: Id
    text: str
    by: Actor
    created_at: Time


Status = Annotated[Literal[STATUSES], Field(description="open, resolved, or snoozed (until snoozed_until)")]
SnoozedUntil = Annotated[Time | None, Field(description="when a snoozed chat opens again by itself")]
Assignee = Annotated[Person | None, Field(description="the operator on it, or null")]


class ChatSummary(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    seller_id: Id
    buyer_first_name: str | None
    product: Product | None
    awaiting_reply: bool
    waiting_since: Annotated[Time | None, Field(description="the oldest unanswered buyer message")]
    last_activity_at: Time
    last_message: MessagePreview | None
    analysis: Analysis | None
    status: Status
    snoozed_until: SnoozedUntil
    assignee: Assignee


class PendingReply(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    state: Literal[_values(ReplyState)]
    text: Annotated[str, Field(description="the text asked for, kept until it is sent")]
    error: str | None
    message_id: Id | None
    created_at: Time
    sent_at: Time | None


class ChatDetail(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    seller_id: Id
    buyer_first_name: str | None
    product: Annotated[dict[str, Any] | None, Field(description="WB's product card (nmID, price, size, ...)")]
    awaiting_reply: bool
    waiting_since: Annotated[Time | None, Field(description="the oldest unanswered buyer message")]
    last_activity_at: Time
    last_message: MessagePreview | None
    analysis: Analysis | None
    status: Status
    snoozed_until: SnoozedUntil
    assignee: Assignee
    messages: Annotated[list[Message], Field(description="oldest first")]
    messages_before: Annotated[Id | None, Field(description="pass as `before` for the older messages")]
    pending_replies: Annotated[list[PendingReply], Field(
        description="the newest replies not sent (yet): queued, sending or failed")]
    notes: Annotated[list[Note], Field(description="internal notes from the first message of this page on "
                                                     "(all of them on the newest page), oldest first")]
    changes: Annotated[list[ChatChange], Field(description="status and assignee changes, over the same span "
                                                             "as notes, oldest first")]


class Job(TypedDict):
    __pydantic_config__ = CLOSED
    id: str
    kind: Literal[tuple(kind.func.rsplit(".", 1)[-1] for kind in JOB_KINDS)]
    status: Annotated[Literal[JOB_STATUSES], Field(
        description="retrying: an attempt failed (reason) and the next is due at retry_at")]
    result: NotRequired[Annotated[Any, Field(description="finished jobs: what the job returned")]]
    reason: NotRequired[Annotated[str, Field(description="failed and retrying jobs: a short public reason")]]
    retry_at: NotRequired[Annotated[Time | None, Field(description="retrying jobs: when the next attempt is due")]]


class JobSummary(TypedDict):
    """A job as the job view lists it (chatcenter/job_board.py)."""
    __pydantic_config__ = CLOSED
    id: str
    queue: str
    kind: Annotated[str, Field(description="sync, analysis, reply, or the function's name")]
    state: Literal["queued", "scheduled", "started", "failed"]
    subject: Annotated[dict[Literal["seller_id", "chat_id", "reply_id", "message_id"], Id] | None, Field(
        description="what the job is about: {seller_id}, {chat_id} or {reply_id}")]
    enqueued_at: Time | None
    started_at: Time | None
    ended_at: Time | None
    age_seconds: Annotated[int | None, Field(ge=0, description="running: since it started; else since enqueued")]
    reason: Annotated[str | None, Field(description="failed jobs: a short public reason")]
    retries_left: int | None


class ResponseStats(TypedDict):
    __pydantic_config__ = CLOSED
    answered: Annotated[int, Field(ge=0, description="first responses in the period")]
    median_seconds: float | None
    p90_seconds: float | None
    within_target: Annotated[float | None, Field(ge=0, le=1, description="share answered within the target "
                                                                          "for the chat's urgency")]


class SellerResponseTimes(ResponseStats):
    seller_id: Id
    name: str
    waiting_past_target: Annotated[int, Field(ge=0, description="chats waiting past their target now")]


class OperatorResponseTimes(ResponseStats):
    operator_id: Id
    email: str | None


class DailyResponseTimes(ResponseStats):
    day: Annotated[str, Field(description="YYYY-MM-DD (UTC)")]


class HourlyTraffic(TypedDict):
    __pydantic_config__ = CLOSED
    hour: Annotated[str, Field(description="YYYY-MM-DDTHH (UTC)")]
    incoming: Annotated[int, Field(ge=0, description="buyer messages")]
    outgoing: Annotated[int, Field(ge=0, description="seller messages")]


class Check(TypedDict):
    __pydantic_config__ = CLOSED
    ok: bool
    error: NotRequired[str]


class SentryState(TypedDict):
    __pydantic_config__ = CLOSED
    enabled: bool
    environment: str


class LivePoller(TypedDict):
    __pydantic_config__ = CLOSED
    id: str
    sellers: Annotated[int, Field(description="sellers it polls")]
    last_poll_at: Time | None


class GonePoller(TypedDict):
    __pydantic_config__ = CLOSED
    id: str
    last_beat_at: Time | None


class Pollers(TypedDict):
    """Not a readiness check (the web serves without pollers): who polls WB, and who died."""
    __pydantic_config__ = CLOSED
    ok: Annotated[bool, Field(description="at least one poller is alive")]
    error: NotRequired[Annotated[str, Field(description="Redis could not be asked")]]
    live: list[LivePoller]
    gone: Annotated[list[GonePoller], Field(description="stopped beating in the last hour (SIGKILL, host lost)")]


class Readiness(TypedDict):
    __pydantic_config__ = CLOSED
    status: Literal["ready", "unavailable"]
    checks: dict[str, Check]
    sentry: SentryState
    pollers: Pollers


# ------------------------------------------------------------- whole answers (documented)

class SavedReply(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=100)]
    text: Annotated[str, Field(description="with placeholders {buyer_name} and {nm_id}")]


class FilledReply(TypedDict):
    __pydantic_config__ = CLOSED
    id: Id
    name: str
    text: Annotated[str, Field(max_length=1000, description="the saved reply filled for the chat")]


class Answer(BaseModel):
    model_config = CLOSED


class SellerList(Answer):
    sellers: list[Seller]


class ChatPage(Answer):
    chats: list[ChatSummary]
    next_cursor: Annotated[str | None, Field(description="pass as `cursor` for the next page")]


class OneChat(RootModel[ChatDetail]):
    """The chat: its product card, a page of its messages, its latest analysis."""


class OneNote(RootModel[Note]):
    """The note as stored."""


class OneJob(RootModel[Job]):
    """The job's state, and its result or why it failed."""


class JobAccepted(Answer):
    job_id: str


class ReplyAccepted(Answer):
    job_id: str
    reply_id: Id
    state: Annotated[Literal[_values(ReplyState)], Field(description="the reply's state now")]


class JobList(Answer):
    jobs: list[JobSummary]
    next_cursor: Annotated[str | None, Field(description="pass as `cursor` for the next page")]


class ResponseTimes(Answer):
    from_: Annotated[Time, Field(alias="from")]
    to: Time
    seller_id: Id | None
    targets_minutes: Annotated[dict[Literal["high", "medium", "low"], int], Field(
        description="RESPONSE_TARGET_*_MINUTES")]
    sellers: list[SellerResponseTimes]
    operators: Annotated[list[OperatorResponseTimes], Field(description="answers sent from the inbox")]
    days: list[DailyResponseTimes]
    hours: list[HourlyTraffic]


class SavedReplyList(Answer):
    templates: list[SavedReply]


class OneSavedReply(RootModel[SavedReply]):
    """The saved reply."""


class OneFilledReply(RootModel[FilledReply]):
    """The saved reply with its placeholders filled for the chat: put it in the reply box, edit, send."""


class Error(Answer):
    detail: Annotated[str, Field(description="What was wrong; starts with the field at fault, if any")]
    job_id: Annotated[str, Field(description="409 only: the job already queued or running")] = None
    state: Annotated[Literal["pending", "moderation", "refused"], Field(
        description="409 of a file only: why it is not served")] = None


class Liveness(Answer):
    status: Literal["ok"]


class Ready(RootModel[Readiness]):
    """Whether the database and Redis answer, and Sentry's settings."""


class Document(RootModel[dict[str, Any]]):
    """An OpenAPI 3.1 document."""
