"""Storage use of attachments, and removing the files of chats long quiet (`flask
attachments stats` / `prune`). The database is the store: these read the rows' sizes, never
the bytes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from chatcenter.models import Attachment, AttachmentContent, AttachmentState, Chat, Seller


def usage_by_state(session: Session) -> list[tuple[str, int, int]]:
    """(state, files, bytes) for every state, stored or not (bytes: announced until stored)."""
    rows = dict((state, (count, size or 0)) for state, count, size in session.execute(
        select(Attachment.state, func.count(), func.sum(Attachment.size)).group_by(Attachment.state)))
    states = (AttachmentState.READY, AttachmentState.PENDING, AttachmentState.MODERATION, AttachmentState.REFUSED)
    return [(state, *rows.get(state, (0, 0))) for state in states]


def usage_by_seller(session: Session) -> list[tuple[int, str, int, int]]:
    """(seller id, name, files stored, bytes stored), the biggest first."""
    return [tuple(row) for row in session.execute(
        select(Seller.id, Seller.name, func.count(Attachment.id), func.coalesce(func.sum(Attachment.size), 0))
        .join(Chat, Chat.seller_id == Seller.id).join(Attachment, Attachment.chat_id == Chat.id)
        .where(Attachment.state == AttachmentState.READY)
        .group_by(Seller.id, Seller.name).order_by(func.sum(Attachment.size).desc(), Seller.id))]


@dataclass(frozen=True)
class Pruned:
    chat_id: int
    seller_id: int
    files: int
    bytes: int


def prune(session: Session, cutoff: datetime, dry_run: bool = False) -> list[Pruned]:
    """Remove the files (rows and bytes) of chats with no activity since `cutoff`. A reply's
    files not sent yet are kept with their reply."""
    quiet = (select(Attachment.id).join(Chat, Chat.id == Attachment.chat_id)
             .where(Chat.last_message_at < cutoff, Attachment.message_id.is_not(None)))
    found = [Pruned(*row) for row in session.execute(
        select(Chat.id, Chat.seller_id, func.count(Attachment.id), func.coalesce(func.sum(Attachment.size), 0))
        .join(Attachment, Attachment.chat_id == Chat.id)
        .where(Chat.last_message_at < cutoff, Attachment.message_id.is_not(None))
        .group_by(Chat.id, Chat.seller_id).order_by(Chat.id))]
    if found and not dry_run:
        ids = session.scalars(quiet).all()
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            session.execute(delete(AttachmentContent).where(AttachmentContent.attachment_id.in_(chunk)))
            session.execute(delete(Attachment).where(Attachment.id.in_(chunk)))
    return found


def cutoff_for(days: int, now: datetime) -> datetime:
    return now - timedelta(days=days)
