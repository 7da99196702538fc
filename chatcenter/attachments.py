"""Attachments: what a file is (by its first bytes), WB's attachments read into rows, the
one lookup every route serving a file goes through, and the views the API and pages show.

A buyer's file is fetched from WB once by a job (jobs/attachments.py) and kept in the
database with its message; pages and the API serve it from our own URL. An operator's file
is checked here before its reply is queued, and kept with the reply until it is sent.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from chatcenter.errors import BadInput, Conflict, NotFound, TooLarge
from chatcenter.models import OPEN_ATTACHMENT, Attachment, AttachmentContent, AttachmentState, utcnow
from chatcenter.queues import ATTACHMENTS_JOB, enqueue

MB = 1024 * 1024
FILE_MAX = 5 * MB  # WB's limit per file, both ways
FILES_MAX = 5  # files per reply
FILES_TOTAL_MAX = 30 * MB  # WB's limit per message
DOWNLOAD_ID_MAX = 100
NAME_MAX = 255

JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
IMAGE_TYPES = (JPEG, PNG)
# The first bytes of each type we take (and WB takes): the type is read from these, never
# from a name or a header a client or WB chose.
MAGIC = ((b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG), (b"%PDF-", PDF))
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}

WB_PRODUCT_URL = "https://www.wildberries.ru/catalog/{nm_id}/detail.aspx"
API_FILE_URL = "/api/chats/{chat_id}/attachments/{download_id}"

# Images open in the page; anything else is downloaded, never rendered by the browser.
CACHE_FOREVER = "private, max-age=31536000, immutable"


def sniff(content: bytes) -> str | None:
    """The content type the bytes are (JPEG, PNG or PDF), or None."""
    return next((kind for magic, kind in MAGIC if content.startswith(magic)), None)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# ------------------------------------------------------------------ WB's attachments

@dataclass(frozen=True)
class WBFile:
    """One image or file of a WB event's attachments, as its row will hold it."""

    position: int
    download_id: str
    kind: str  # image, file
    name: str
    content_type: str  # what WB promises ("" for images: JPEG or PNG)
    size: int | None


def wb_files(attachments) -> list[WBFile]:
    """The images and files of an event's `message.attachments` that name a usable
    downloadID (the product card is not a file: it stays in the message's raw JSON)."""
    if not isinstance(attachments, dict):
        return []
    found: list[WBFile] = []
    for kind, items in (("image", attachments.get("images")), ("file", attachments.get("files"))):
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            download_id = _download_id(item.get("downloadID"))
            if download_id is None or any(f.download_id == download_id for f in found):
                continue
            name = item.get("name") if isinstance(item.get("name"), str) else ""
            promised = item.get("contentType") if isinstance(item.get("contentType"), str) else ""
            size = item.get("size") if isinstance(item.get("size"), int) and not isinstance(item.get("size"), bool) \
                else None
            found.append(WBFile(len(found), download_id, kind, name[:NAME_MAX], promised.lower()[:100], size))
    return found


def _download_id(value) -> str | None:
    """WB's downloadID as the URL segment that names the file (no slash, no control
    character, at most DOWNLOAD_ID_MAX characters), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= DOWNLOAD_ID_MAX:
        return None
    if "/" in value or "\\" in value or any(ord(c) < 33 or ord(c) == 127 for c in value):
        return None
    return value


def refusal(file_kind: str, promised: str, content: bytes) -> tuple[str | None, str | None]:
    """(the stored content type, None), or (None, why the file is refused)."""
    if len(content) > FILE_MAX:
        return None, f"larger than {FILE_MAX // MB} MB"
    found = sniff(content)
    if found is None:
        return None, "not a JPEG, PNG or PDF file"
    if file_kind == "image" and found not in IMAGE_TYPES:
        return None, f"WB announced an image, the file is {found}"
    if promised and promised != found and not (promised == "image/jpg" and found == JPEG):
        return None, f"WB announced {promised}, the file is {found}"
    return found, None


# ------------------------------------------------------------------------- lookups

def attachment_for_chat(session: Session, chat_id: int, download_id: str) -> Attachment:
    """The attachment `download_id` of chat `chat_id`: every route that serves a file finds
    it here (so a check of who may see the chat belongs here too). NotFound otherwise."""
    found = session.scalar(select(Attachment).where(Attachment.chat_id == chat_id,
                                                    Attachment.download_id == download_id))
    if found is None or found.message_id is None:  # a reply's file joins the chat once sent
        raise NotFound(f"attachment {download_id} of chat {chat_id} does not exist")
    return found


def content_of(session: Session, attachment: Attachment) -> bytes | None:
    return session.scalar(select(AttachmentContent.content)
                          .where(AttachmentContent.attachment_id == attachment.id))


class NotReady(Conflict):
    """409: the file is known but not stored (yet, or ever); `state` says which."""

    def __init__(self, attachment: Attachment):
        why = {AttachmentState.PENDING: "it is not fetched from WB yet",
               AttachmentState.MODERATION: "WB is still moderating it",
               AttachmentState.REFUSED: f"it was refused ({attachment.error or 'no reason recorded'})"}
        super().__init__(f"attachment {attachment.download_id} is not available: "
                         f"{why.get(attachment.state, attachment.state)}", state=attachment.state)
        self.state = attachment.state


def served_file(session: Session, chat_id: int, download_id: str) -> tuple[Attachment, bytes]:
    """The attachment and its bytes, for a route to send; NotFound, or NotReady (409)."""
    attachment = attachment_for_chat(session, chat_id, download_id)
    content = content_of(session, attachment) if attachment.state == AttachmentState.READY else None
    if content is None:
        raise NotReady(attachment)
    return attachment, content


def disposition(attachment: Attachment) -> str:
    """Content-Disposition: inline for images, attachment for the rest, with a filename a
    browser cannot misread (ASCII fallback, and RFC 6266/5987 filename* for the real one)."""
    mode = "inline" if attachment.content_type in IMAGE_TYPES else "attachment"
    name = file_name(attachment)
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name) or "file"
    return f"{mode}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_name(attachment: Attachment) -> str:
    """The name to show and save under: WB's or the operator's, else one made of the id."""
    name = "".join(c for c in (attachment.name or "") if c.isprintable() and c not in '/\\"')
    name = name.strip().strip(".")
    if not name:
        name = f"{attachment.kind}-{attachment.download_id}"
        extension = EXTENSIONS.get(attachment.content_type)
        if extension:
            name += f".{extension}"
    return name[:NAME_MAX]


# --------------------------------------------------------------------------- views

def product_url(product: dict | None) -> str | None:
    """WB's page of a product card's item."""
    nm_id = (product or {}).get("nmID")
    return WB_PRODUCT_URL.format(nm_id=nm_id) if isinstance(nm_id, int) and not isinstance(nm_id, bool) else None


def file_url(chat_id: int, download_id: str) -> str:
    """The API's same-origin URL of a file (the pages' is the same without /api)."""
    return API_FILE_URL.format(chat_id=chat_id, download_id=quote(download_id, safe=""))


def attachment_views(session: Session, message_ids: list[int]) -> dict[int, list[dict]]:
    """Each message's files as the API shows them (contract.Attachment), in their order."""
    if not message_ids:
        return {}
    columns = (Attachment.message_id, Attachment.chat_id, Attachment.download_id, Attachment.kind, Attachment.name,
               Attachment.content_type, Attachment.size, Attachment.state)
    rows = session.connection().execute(select(*columns).where(Attachment.message_id.in_(message_ids))
                                        .order_by(Attachment.message_id, Attachment.position, Attachment.id))
    views: dict[int, list[dict]] = {}
    for row in rows:
        views.setdefault(row.message_id, []).append({
            "kind": row.kind, "name": row.name or None, "content_type": row.content_type or None,
            "size": row.size, "state": row.state, "url": file_url(row.chat_id, row.download_id)})
    return views


def product_view(attachments) -> dict | None:
    """A message's product card (WB's goodCard) as an attachment of kind product."""
    card = attachments.get("goodCard") if isinstance(attachments, dict) else None
    if not isinstance(card, dict):
        return None
    nm_id = card.get("nmID")
    return {"kind": "product", "name": str(nm_id) if nm_id is not None else None, "content_type": None,
            "size": None, "state": AttachmentState.READY, "url": product_url(card)}


def message_attachments(files: list[dict], raw) -> list[dict]:
    """A message's attachments: its files, then the product card it carries."""
    product = product_view(raw)
    return [*files, product] if product else files


# -------------------------------------------------------------- an operator's files

@dataclass(frozen=True)
class Upload:
    """A file an operator attached to a reply, checked."""

    name: str
    content_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return digest(self.content)


def check_uploads(files: list[tuple[str, bytes]]) -> list[Upload]:
    """(name, bytes) as sent -> the files WB will take, in order, or the first problem
    named by its file: 400 (type, count) or 413 (size). Nothing is stored before this."""
    if len(files) > FILES_MAX:
        raise BadInput("file", f"at most {FILES_MAX} files per reply, got {len(files)}")
    checked, total = [], 0
    for name, content in files:
        shown = _shown_name(name)
        if len(content) > FILE_MAX:
            raise TooLarge("file", f"{shown} is {len(content) / MB:.1f} MB; each file may be at most "
                                   f"{FILE_MAX // MB} MB")
        if not content:
            raise BadInput("file", f"{shown} is empty")
        kind = sniff(content)
        if kind is None:
            raise BadInput("file", f"{shown} is not a JPEG, PNG or PDF file (judged by its content, not its name)")
        total += len(content)
        if total > FILES_TOTAL_MAX:
            raise TooLarge("file", f"the files come to more than {FILES_TOTAL_MAX // MB} MB in all "
                                   f"(at {shown})")
        clean = "".join(c for c in name if c.isprintable() and c not in '/\\"').strip()[:NAME_MAX]
        checked.append(Upload(clean or f"file-{len(checked) + 1}.{EXTENSIONS[kind]}", kind, content))
    return checked


def _shown_name(name: str) -> str:
    """A client's file name, quoted and shortened, for an error detail."""
    name = "".join(c if c.isprintable() else "?" for c in name)
    return json.dumps(name if len(name) <= 60 else name[:60] + "…", ensure_ascii=False)


def store_reply_files(session: Session, chat_id: int, reply_id: int, uploads: list[Upload]) -> None:
    """The reply's files, kept with it until it is sent (then they join its message)."""
    now = utcnow()
    for position, upload in enumerate(uploads):
        attachment = Attachment(chat_id=chat_id, reply_id=reply_id, position=position,
                                download_id=f"reply-{reply_id}-{position + 1}",
                                kind="image" if upload.content_type in IMAGE_TYPES else "file",
                                name=upload.name, content_type=upload.content_type, size=len(upload.content),
                                state=AttachmentState.READY, sha256=upload.sha256, fetched_at=now, created_at=now)
        session.add(attachment)
        session.flush()
        session.add(AttachmentContent(attachment_id=attachment.id, content=upload.content))


def reply_file_digests(session: Session, reply_id: int) -> list[str]:
    """The reply's files as their SHA-256, in order: what an Idempotency-Key compares."""
    return list(session.scalars(select(Attachment.sha256).where(Attachment.reply_id == reply_id)
                                .order_by(Attachment.position)))


def reply_uploads(session: Session, chat_id: int, reply_id: int) -> list[Upload]:
    """A reply's files as uploads, to send again with a new reply ("Send again")."""
    rows = session.execute(select(Attachment.name, Attachment.content_type, AttachmentContent.content)
                           .join(AttachmentContent, AttachmentContent.attachment_id == Attachment.id)
                           .where(Attachment.reply_id == reply_id, Attachment.chat_id == chat_id)
                           .order_by(Attachment.position))
    return [Upload(name, content_type, content) for name, content_type, content in rows]


def reply_files(session: Session, reply_id: int) -> list[tuple[str, bytes, str]]:
    """The reply's files as the WB client sends them: (name, bytes, content type)."""
    rows = session.execute(select(Attachment.name, AttachmentContent.content, Attachment.content_type)
                           .join(AttachmentContent, AttachmentContent.attachment_id == Attachment.id)
                           .where(Attachment.reply_id == reply_id).order_by(Attachment.position))
    return [(name, content, content_type) for name, content, content_type in rows]


# ---------------------------------------------------------------------------- jobs

DUE_PER_TURN = 1000
# A message's files just stored are being enqueued by their sync: recovery leaves them be.
RECORD_GRACE = timedelta(seconds=30)


def enqueue_fetches(resources, message_ids) -> int:
    """One fetch job per message with files to fetch (a no-op while one is pending)."""
    delays = resources.settings.job_retry_delays
    return sum(enqueue(resources.redis, ATTACHMENTS_JOB, message_id, delays).created
               for message_id in sorted(message_ids))


def due_fetch_messages(session: Session, now: datetime) -> list[int]:
    """Messages with a file still to fetch whose fetch is due: pending (past the grace a
    sync has to enqueue it), or in WB's moderation past its retry time. The recovery
    enqueues these, so a fetch lost with Redis, or a moderated file, is not forgotten."""
    return list(session.scalars(
        select(Attachment.message_id).where(
            OPEN_ATTACHMENT, Attachment.reply_id.is_(None), Attachment.message_id.is_not(None),
            or_(Attachment.retry_at <= now,
                and_(Attachment.retry_at.is_(None), Attachment.created_at <= now - RECORD_GRACE)))
        .distinct().order_by(Attachment.message_id).limit(DUE_PER_TURN)))
