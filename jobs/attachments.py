"""fetch_attachments: fetch a message's files from WB once and keep them in the database.

Each file is one WB request, on the seller's shared budget (10 per 10 s, with events and
replies), and at most DOWNLOAD_SHARE of it, so a burst of photos never starves the syncs.
A file WB still moderates (202) is looked at again after WB's retrySeconds: this job is
retried then (its retry interval is set to WB's wait). A file over 5 MB, or whose bytes are
not the type WB announced, is refused for good. A stored file is never fetched again,
whatever the number of page views: pages only read the database.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from rq import get_current_job
from sqlalchemy import select

from chatcenter import runtime
from chatcenter.attachments import FILE_MAX, digest, refusal
from chatcenter.clients.ratelimit import RateLimitWaitTooLong, RedisRateLimiter
from chatcenter.clients.wb import RATE_PERIOD, InModeration, WBClient, WBFileTooLarge
from chatcenter.config import REDIS_PREFIX
from chatcenter.failures import PermanentJobError, TransientJobError
from chatcenter.models import Attachment, AttachmentContent, AttachmentState, Chat, Seller, utcnow

log = logging.getLogger("jobs.attachments")

DOWNLOAD_SHARE = 5  # of WB's 10 requests per 10 s per seller: downloads leave the rest to syncs and replies
RATE_WAIT = 20.0  # seconds a download waits for a slot before the job is retried
# A file WB has moderated this long is given up on (refused): a job is not retried forever.
MODERATION_GIVE_UP = timedelta(days=7)


class StillModerated(TransientJobError):
    """WB is still moderating a file: the job runs again after WB's wait."""


def fetch_attachments(message_id: int) -> dict:
    resources = runtime.get()
    with resources.db.session() as session:
        files = session.scalars(select(Attachment).where(
            Attachment.message_id == message_id, Attachment.reply_id.is_(None),
            Attachment.state.in_((AttachmentState.PENDING, AttachmentState.MODERATION)))
            .order_by(Attachment.position)).all()
        if not files:
            return {"message_id": message_id, "fetched": 0, "refused": 0, "moderation": 0}
        seller = session.scalar(select(Seller).join(Chat, Chat.seller_id == Seller.id)
                                .where(Chat.id == files[0].chat_id))
        if seller is None:
            raise PermanentJobError(f"message {message_id} has no seller")
        todo = [(f.id, f.download_id, f.kind, f.content_type, f.retry_at, f.created_at) for f in files]
        seller_id, token = seller.id, seller.wb_token
    share = RedisRateLimiter(resources.redis, f"{REDIS_PREFIX}wb-download-rate:{seller_id}",
                             limit=DOWNLOAD_SHARE, period=RATE_PERIOD)
    counts = {"fetched": 0, "refused": 0, "moderation": 0}
    waits: list[float] = []
    with WBClient.for_seller(resources.settings.wb_api_base_url, token, resources.redis, seller_id) as client:
        for attachment_id, download_id, kind, promised, retry_at, created_at in todo:
            now = utcnow()
            if retry_at is not None and retry_at > now:  # an earlier run's 202 asked to wait
                waits.append((retry_at - now).total_seconds())
                continue
            try:
                share.acquire(RATE_WAIT)
            except RateLimitWaitTooLong as exc:
                raise TransientJobError(f"the seller's WB budget for downloads is in use; "
                                        f"next slot in {exc.wait_seconds:.0f} s") from None
            try:
                got = client.download(download_id, FILE_MAX)
            except WBFileTooLarge:
                _refuse(resources, attachment_id, f"larger than {FILE_MAX // 2**20} MB")
                counts["refused"] += 1
                continue
            if isinstance(got, InModeration):
                if now - created_at > MODERATION_GIVE_UP:
                    _refuse(resources, attachment_id, "WB kept it in moderation for 7 days")
                    counts["refused"] += 1
                    continue
                _moderating(resources, attachment_id, now + timedelta(seconds=got.retry_seconds))
                waits.append(got.retry_seconds)
                counts["moderation"] += 1
                continue
            content_type, why = refusal(kind, promised, got.content)
            if why is not None:
                _refuse(resources, attachment_id, why)
                counts["refused"] += 1
                continue
            _store(resources, attachment_id, content_type, got.content)
            counts["fetched"] += 1
    log.info("message %s: %s files fetched, %s refused, %s in WB's moderation", message_id,
             counts["fetched"], counts["refused"], counts["moderation"])
    if waits:
        _retry_after(min(waits))
    return {"message_id": message_id, **counts}


def _store(resources, attachment_id: int, content_type: str, content: bytes) -> None:
    with resources.db.session() as session:
        attachment = session.get(Attachment, attachment_id)
        if attachment is None or attachment.state == AttachmentState.READY:  # pruned, or stored meanwhile
            return
        session.merge(AttachmentContent(attachment_id=attachment_id, content=content))
        attachment.state, attachment.error, attachment.retry_at = AttachmentState.READY, None, None
        attachment.content_type, attachment.size, attachment.sha256 = content_type, len(content), digest(content)
        attachment.fetched_at = utcnow()


def _refuse(resources, attachment_id: int, why: str) -> None:
    log.warning("attachment %s refused: %s", attachment_id, why)
    with resources.db.session() as session:
        attachment = session.get(Attachment, attachment_id)
        if attachment is not None:
            attachment.state, attachment.error, attachment.retry_at = AttachmentState.REFUSED, why, None
            attachment.fetched_at = utcnow()


def _moderating(resources, attachment_id: int, retry_at) -> None:
    with resources.db.session() as session:
        attachment = session.get(Attachment, attachment_id)
        if attachment is not None:
            attachment.state, attachment.retry_at = AttachmentState.MODERATION, retry_at


def _retry_after(seconds: float) -> None:
    """This job again in `seconds` (WB's retrySeconds), however many tries it had: RQ's
    retry with its interval set to WB's wait. Outside a worker (`--now`) nothing is retried:
    the poller's recovery enqueues it when due."""
    wait = max(1, round(seconds))
    job = get_current_job()
    if job is None:
        return
    job.retries_left = max(job.retries_left or 0, 1)
    job.retry_intervals = [wait]
    raise StillModerated(f"WB is still moderating a file of this message; next look in {wait} s")
