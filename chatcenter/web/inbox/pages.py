"""The inbox's pages (inbox, chat, sellers) and the forms they post (reply, analyse, sync).

Reads go through chatcenter.queries and requests through chatcenter.actions, like the
JSON API; nothing here queries a table of its own. Every read takes the operator's scope (an
agent sees the sellers granted); a URL naming another seller's chat never reaches a view
here (the guard in auth.py answers 404). Each page has a part that refreshes
itself (see live.py), built by the same *_part function as the full page.
"""
from __future__ import annotations

import logging
import uuid

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from redis.exceptions import RedisError

from chatcenter import runtime, saved_replies
from chatcenter.actions import (
    AnalysisOff, IdempotencyConflict, NotFound, WouldBeRefused, request_analysis, request_reply, request_sync,
)
from chatcenter.attachments import FILE_MAX, FILES_MAX, check_uploads, reply_uploads
from chatcenter.chat_status import UNSET, change_chat
from chatcenter.errors import BadInput, TooLarge
from chatcenter.models import AttachmentState, ChatStatus, ReplyState
from chatcenter.notes import NOTE_MAX, add_note
from chatcenter.moderation import wb_would_refuse
from chatcenter.prompt import CATEGORIES, URGENCIES
from chatcenter.queries import (
    ChatFilter, active_operators, chat_detail, chat_reply, count_chats, failing_sellers, job_view,
    list_chats, list_sellers,
)
from chatcenter.queues import ANALYSIS_JOB, SYNC_JOB, QueueUnavailable
from chatcenter.wb_events import MESSAGE_MAX
from chatcenter.unread import count_unread_chats, mark_seen, read_floor, start_reading, unread_counts
from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.inbox.params import whole_number
from chatcenter.web.files import file_answer
from chatcenter.web.inbox.views import VIEWS, view_filters, view_named
from chatcenter.web.inbox.present import REFUSED_KIND, parse_time
from chatcenter.web.inbox.snooze import CHOICES as SNOOZE_CHOICES, snooze_until
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import current_scope

log = logging.getLogger("chatcenter.inbox")

PAGE_SIZE = 25
# Past this many chats awaiting a reply the inbox says "999+": counting a backlog of tens of
# thousands on every page load and live refresh would cost more than the page itself.
AWAITING_SHOWN_MAX = 999
# The list's "1–25 of 240" counts at most this many ("of 1000+"), for the same reason.
LIST_COUNT_MAX = 1000
FILTER_PARAMS = ("view", "seller", "show", "urgency", "category", "q")  # what links of the list keep
SHOW = {"awaiting": True, "answered": False}  # the "Show" filter; empty: every chat
REFRESH_SECONDS = 15  # how often a page part fetches itself again
BUSY_REFRESH_SECONDS = 2  # ... while a reply, analysis or sync it asked for is under way
PENDING_JOB = {"queued", "started"}
# Replies on their way: the AI's suggestion is not pre-filled meanwhile, and the page looks often.
ON_THE_WAY = (ReplyState.QUEUED, ReplyState.SENDING, ReplyState.UNCONFIRMED)


# ------------------------------------------------------------------------------ inbox

def _int_arg(args, name: str) -> int | None:
    return whole_number(args.get(name, ""), name)


def inbox_filters(args) -> tuple[str, ChatFilter, str]:
    """The view's name, its filters with the form's, and its order."""
    # A search looks through every chat unless a view is chosen: last week's buyer is resolved.
    searching = bool((args.get("q") or "").strip())
    name, view = view_named(args.get("view") or ("all" if searching else ""))
    show = args.get("show", "")
    if show and show not in SHOW:
        raise BadInput("show", f"must be one of {', '.join(SHOW)}")
    fields = view_filters(view, g.operator.id)
    if show:  # the form's "Show" says it outright
        fields["awaiting_reply"] = SHOW[show]
    filters = ChatFilter(seller_id=_int_arg(args, "seller"), urgency=args.get("urgency") or None,
                         category=args.get("category") or None, q=args.get("q") or None, **fields)
    # A search lists the best matches first (chatcenter/search.py); otherwise the view's order.
    return name, filters, "activity" if filters.q else view.order


def _reader_floor(operator_id: int) -> int:
    with request_reader() as session:
        floor = read_floor(session, operator_id)
    if floor is None:  # the operator's first look at the inbox: what came before counts as read
        with runtime.get().db.session() as session:
            floor = start_reading(session, operator_id)
    return floor


def inbox_part(args) -> dict:
    view, filters, order = inbox_filters(args)
    cursor = args.get("cursor") or None
    number = (_int_arg(args, "page") or 1) if cursor else 1  # the page's number: only for "26–50 of 240"
    reader = g.operator.id
    floor = _reader_floor(reader)
    scope = current_scope()
    with request_reader() as session:
        page = list_chats(session, filters, scope=scope, order=order, limit=PAGE_SIZE, cursor=cursor)
        # A search's matches are not counted (the count of the filters alone would be wrong).
        total = None if filters.q else count_chats(session, filters, scope=scope, up_to=LIST_COUNT_MAX)
        # "Needs reply", counted in the seller chosen: what the title and summary line show.
        awaiting = count_chats(session, ChatFilter(seller_id=filters.seller_id, statuses=(ChatStatus.OPEN,),
                                                   awaiting_reply=True), scope=scope, up_to=AWAITING_SHOWN_MAX)
        sellers = list_sellers(session, scope=scope)
        unread = unread_counts(session, reader, floor, [chat["id"] for chat in page.chats])
        unread_chats = count_unread_chats(session, reader, floor, scope=scope)
    if page.prev_cursor is None:
        number = 1  # a "previous page" that reached the start shows the first page
    first = (number - 1) * PAGE_SIZE + 1
    kept = {k: v for k, v in args.items() if k in FILTER_PARAMS and v.strip()}
    tab_args = {k: v for k, v in kept.items() if k not in ("view", "show")}
    return {
        "chats": page.chats,
        "searched": filters.q,
        "view": view,
        "views": [{"name": name, "label": shown.label, "url": url_for("inbox.inbox", **tab_args, view=name)}
                  for name, shown in VIEWS.items()],
        "unread": unread,
        "unread_chats": unread_chats,
        "awaiting": min(awaiting, AWAITING_SHOWN_MAX),
        "awaiting_more": awaiting > AWAITING_SHOWN_MAX,  # shown as "999+"
        "range": None if total is None else {"first": first, "last": first + len(page.chats) - 1,
                                             "total": min(max(total, first + len(page.chats) - 1), LIST_COUNT_MAX),
                                             "more": total > LIST_COUNT_MAX},
        "sellers": sellers,
        "seller_names": {s["id"]: s["name"] for s in sellers},
        "next_url": url_for("inbox.inbox", **kept, cursor=page.next_cursor, page=number + 1)
        if page.next_cursor else None,
        "prev_url": (url_for("inbox.inbox", **kept) if number <= 2 else
                     url_for("inbox.inbox", **kept, cursor=page.prev_cursor, page=number - 1))
        if page.prev_cursor else None,
        "live_url": url_for("inbox.live_inbox", **kept, **({"cursor": cursor, "page": number} if cursor else {})),
        "first_url": url_for("inbox.inbox", **kept) if cursor and filters.q else None,
        "clear_search_url": url_for("inbox.inbox", **{k: v for k, v in kept.items() if k != "q"}),
    }


@bp.get("/")
def inbox():
    part = inbox_part(request.args)
    return render_template("inbox/inbox.html", part=part, sellers=part["sellers"], args=request.args,
                           urgencies=URGENCIES, categories=CATEGORIES)


# ------------------------------------------------------------------------------- chat

def _int_param(name: str) -> int | None:
    return _int_arg(request.args, name)


def _load_chat(chat_id: int, before: int | None) -> dict:
    with request_reader() as session:
        chat = chat_detail(session, chat_id, scope=current_scope(), before=before)
    if chat is None:
        raise NotFound.of("chat", chat_id)
    return chat


def _job(job_id: str) -> dict | None:
    """The view of a job the operator asked for (as the API shows it); None when unknown or
    Redis is away."""
    try:
        return job_view(runtime.get().redis, job_id)
    except (QueueUnavailable, RedisError):
        return None


def _job_state(job_id: str) -> str | None:
    view = _job(job_id)
    return view["status"] if view else None


def thread_part(chat_id: int, before: int | None, reply_id: int | None, chat: dict | None = None) -> dict:
    chat = chat if chat is not None else _load_chat(chat_id, before)
    followed = None
    if reply_id is not None:
        with runtime.get().db.session() as session:
            followed = chat_reply(session, chat_id, reply_id)
    # Failures matter until the chat moves on; queued and sending replies always show.
    last_activity = parse_time(chat["last_activity_at"])
    pending = [r for r in chat["pending_replies"]
               if r["state"] != ReplyState.FAILED or parse_time(r["created_at"]) >= last_activity]
    if followed is not None and all(r["id"] != followed["id"] for r in pending):
        pending.append(followed)
    # A file being fetched from WB shows as soon as it is stored (one in WB's moderation
    # may take hours: the usual pace).
    fetching = any(a["state"] == AttachmentState.PENDING for m in chat["messages"] for a in m["attachments"])
    busy = any(r["state"] in ON_THE_WAY for r in pending)
    params = {k: v for k, v in (("before", before), ("reply", reply_id)) if v is not None}
    return {
        "chat": chat,
        "timeline": timeline(chat),
        "replies": sorted(pending, key=lambda r: r["id"]),
        "refresh": BUSY_REFRESH_SECONDS if busy or fetching else REFRESH_SECONDS,
        "busy": busy,
        "live_url": url_for("inbox.live_thread", chat_id=chat_id, **params),
        "older_url": url_for("inbox.chat", chat_id=chat_id, before=chat["messages_before"])
        if chat["messages_before"] else None,
    }


def timeline(chat: dict) -> list[dict]:
    """The thread: messages, notes and status lines in the order they happened."""
    items = [{"type": "message", "at": parse_time(m["sent_at"]), "item": m} for m in chat["messages"]]
    items += [{"type": "note", "at": parse_time(n["created_at"]), "item": n} for n in chat["notes"]]
    items += [{"type": "change", "at": parse_time(c["at"]), "item": c} for c in chat["changes"]]
    return sorted(items, key=lambda entry: entry["at"])  # stable: a message before a note of the same moment


def analysis_part(chat_id: int, chat: dict | None = None) -> dict:
    chat = chat if chat is not None else _load_chat(chat_id, None)
    enabled = runtime.get().settings.analysis_enabled
    job = _job(ANALYSIS_JOB.job_id(chat_id)) if enabled else None
    running = job is not None and job["status"] in PENDING_JOB
    # An attempt failed (DeepSeek down, a refused key): say why and when it is tried next,
    # not "in progress" for minutes; the API's /api/jobs/analyze-chat-N says the same.
    failed = job if job is not None and job["status"] in ("retrying", "failed") else None
    return {
        "chat": chat,
        "analysis": chat.get("analysis"),
        "enabled": enabled,
        "running": running,
        "failed": failed,
        "refresh": BUSY_REFRESH_SECONDS if running else REFRESH_SECONDS,
        "live_url": url_for("inbox.live_analysis", chat_id=chat_id),
    }


def refused_names(kinds: list[str]) -> str:
    """"a link and a phone number", in the page's language."""
    return _(" and ").join(str(REFUSED_KIND[k]) for k in kinds)


def render_chat(chat_id: int, draft: str | None = None, error: str | None = None, status: int = 200):
    before, reply_id, edit_id = _int_param("before"), _int_param("reply"), _int_param("edit")
    chat = _load_chat(chat_id, before)
    note_seen(chat, before)
    thread = thread_part(chat_id, before, reply_id, chat)
    analysis = chat.get("analysis")
    not_prefilled = None
    if draft is None and edit_id is not None:  # "Edit" on a reply that was not sent: its text, to change
        with runtime.get().db.session() as session:
            edited = chat_reply(session, chat_id, edit_id)
        draft = edited["text"] if edited and edited["state"] != ReplyState.SENT else None
    if draft is None:
        # The AI's suggestion, when the buyer waits and no reply of ours is on its way; not
        # when WB's moderation would refuse it (the page says why instead).
        suggestion = analysis["suggested_reply"] if analysis and chat["awaiting_reply"] and not thread["busy"] else ""
        refused = wb_would_refuse(suggestion) if suggestion else []
        if refused:
            not_prefilled = _("The AI's suggested reply is not pre-filled: it contains %(what)s, which Wildberries "
                              "refuses in a seller's message. Write the reply without it.", what=refused_names(refused))
        draft = "" if refused else suggestion
    with runtime.get().db.session() as session:
        sellers = {s["id"]: s["name"] for s in list_sellers(session, scope=current_scope())}
        templates = saved_replies.fill_all(session, saved_replies.values_for(chat["buyer_first_name"],
                                                                             chat["product"]))
        operators = active_operators(session)
    return render_template(
        "inbox/chat.html", chat=chat, thread=thread, analysis_box=analysis_part(chat_id, chat), templates=templates,
        operators=operators, snooze_choices=SNOOZE_CHOICES, note_max=NOTE_MAX,
        seller_name=sellers.get(chat["seller_id"], ""), draft=draft, error=error, not_prefilled=not_prefilled,
        idempotency_key=uuid.uuid4().hex, reply_max=MESSAGE_MAX, files_max=FILES_MAX, file_max=FILE_MAX,
        prefilled=bool(draft) and analysis is not None and draft == analysis["suggested_reply"],
    ), status


def note_seen(chat: dict, before: int | None) -> None:
    """The operator has now seen the chat's newest messages (not when paging back in time)."""
    if before is None and chat["messages"]:
        with runtime.get().db.session() as session:
            mark_seen(session, g.operator.id, chat["id"], max(m["id"] for m in chat["messages"]))


@bp.get("/chats/<int:chat_id>")
def chat(chat_id: int):
    return render_chat(chat_id)


@bp.get("/chats/<int:chat_id>/attachments/<download_id>")
def attachment(chat_id: int, download_id: str):
    """A message's photo or file, served from our storage (never from WB's URL)."""
    return file_answer(chat_id, download_id)


@bp.post("/chats/<int:chat_id>/reply")
def send_reply(chat_id: int):
    text = request.form.get("text", "")
    # One key per rendered form: a double click or a resubmitted form sends one reply.
    key = request.form.get("idempotency_key", "").strip() or None
    try:
        # A file input left empty still sends one nameless, empty part.
        files = check_uploads([(part.filename or "", part.read()) for part in request.files.getlist("file")
                               if part.filename or part.content_length])
        again = _int_arg(request.form, "files_of")  # "Send again": the failed reply's files go too
        if again is not None and not files:
            with runtime.get().db.session() as session:
                files = reply_uploads(session, chat_id, again)
    except (BadInput, TooLarge) as exc:
        return render_chat(chat_id, draft=text, status=exc.status, error=_(
            "Not sent: %(problem)s. Attach JPEG, PNG or PDF files of at most 5 MB each, up to 5 files "
            "(30 MB in all), then send again.", problem=exc.detail.removeprefix("file: ")))
    try:
        sent = request_reply(runtime.get(), chat_id, text, requested_by=g.operator.requester, idempotency_key=key,
                             files=files)
    except WouldBeRefused as exc:
        return render_chat(chat_id, draft=text, status=400, error=_(
            "Not sent: it contains %(what)s, and Wildberries refuses links, e-mail addresses, phone numbers and "
            "social networks' names in a seller's message. Remove it and send again.", what=refused_names(exc.kinds)))
    except BadInput as exc:
        message = (_("Write a reply of 1 to %(max)s characters.", max=MESSAGE_MAX) if exc.field == "text"
                   else _("The form was damaged; reload the page and send again."))
        return render_chat(chat_id, draft=text, error=message, status=400)
    except IdempotencyConflict:
        return render_chat(chat_id, draft=text, status=409, error=_(
            "This form was already used to send a different reply. Check the conversation, then send again."))
    except QueueUnavailable:
        return render_chat(chat_id, draft=text, status=503, error=_(
            "Not sent: the job queue is unavailable. Your text is kept here; try again in a few seconds."))
    log.info("operator %s asked to send reply %s in chat %s", g.operator.id, sent.reply_id, chat_id)
    return redirect(url_for("inbox.chat", chat_id=chat_id, reply=sent.reply_id, _anchor="replies"))


@bp.post("/chats/<int:chat_id>/analysis")
def analyse(chat_id: int):
    try:
        # Forced: a person asked, so it is analysed again even with no new message.
        enqueued = request_analysis(runtime.get(), chat_id, force=True)
        flash(_("Analysis requested; the result appears here when it is ready.") if enqueued.created
              else _("An analysis of this chat is already under way; its result appears here."), "ok")
    except AnalysisOff:
        flash(_("Analysis is off: the server has no DeepSeek API key (DEEPSEEK_API_KEY)."), "error")
    except QueueUnavailable:
        flash(_("The job queue is unavailable; try again in a few seconds."), "error")
    return redirect(url_for("inbox.chat", chat_id=chat_id))


# ------------------------------------------------------------ status, assignee, notes

def _change(chat_id: int, **fields) -> None:
    with runtime.get().db.session(write_lock=True) as session:
        change_chat(session, chat_id, g.operator.requester, **fields)


@bp.post("/chats/<int:chat_id>/status")
def change_status(chat_id: int):
    status = request.form.get("status", "")
    snoozed_until = UNSET
    if status == ChatStatus.SNOOZED:
        try:
            snoozed_until = snooze_until(request.form.get("snooze", ""), request.form.get("until", ""))
            _change(chat_id, status=status, snoozed_until=snoozed_until)
        except BadInput as exc:
            if exc.field not in ("until", "snoozed_until"):
                raise
            flash(_("Choose a date and time in the future to snooze the chat until."), "error")
            return redirect(url_for("inbox.chat", chat_id=chat_id))
    else:
        _change(chat_id, status=status)
    return redirect(url_for("inbox.chat", chat_id=chat_id))


@bp.post("/chats/<int:chat_id>/assignee")
def change_assignee(chat_id: int):
    chosen = request.form.get("assignee", "")
    if chosen == "me":
        assignee = g.operator.id
    elif chosen == "none":
        assignee = None
    else:
        assignee = whole_number(chosen, "assignee")
        if assignee is None:
            raise BadInput("assignee", "choose an operator")
    _change(chat_id, assignee_id=assignee)
    return redirect(url_for("inbox.chat", chat_id=chat_id))


@bp.post("/chats/<int:chat_id>/notes")
def add_chat_note(chat_id: int):
    with runtime.get().db.session() as session:
        add_note(session, chat_id, request.form.get("text", ""), g.operator.requester)
    return redirect(url_for("inbox.chat", chat_id=chat_id, _anchor="notes"))


# ---------------------------------------------------------------------------- sellers

def sellers_part() -> dict:
    scope = current_scope()
    with runtime.get().db.session() as session:
        sellers = list_sellers(session, scope=scope)
        failing = {s["id"]: s for s in failing_sellers(session, scope=scope)}
    for seller in sellers:
        seller["job"] = _job_state(SYNC_JOB.job_id(seller["id"]))
    busy = any(s["job"] in PENDING_JOB or s["sync_state"] == "running" for s in sellers)
    return {"sellers": sellers, "failing": failing, "refresh": BUSY_REFRESH_SECONDS if busy else REFRESH_SECONDS,
            "live_url": url_for("inbox.live_sellers")}


@bp.get("/sellers")
def sellers():
    return render_template("inbox/sellers.html", part=sellers_part())


@bp.post("/sellers/<int:seller_id>/sync")
def sync_seller(seller_id: int):
    try:
        enqueued = request_sync(runtime.get(), seller_id)
        flash(_("Sync requested.") if enqueued.created else _("A sync of this seller is already under way."), "ok")
    except QueueUnavailable:
        flash(_("The job queue is unavailable; try again in a few seconds."), "error")
    return redirect(url_for("inbox.sellers"))
