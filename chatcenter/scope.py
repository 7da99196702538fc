"""Who sees which seller: the one value every read and action of a request is limited by.

A request's Scope is built once, from the signed-in operator (an admin sees every seller, an
agent the sellers granted) or from the API key (all sellers, or the ones it was created for;
read-write or read-only). Queries narrow themselves with `scope.limit(column)`; a thing named
by id (a seller, a chat, a job) is checked by `visible_seller`, `visible_chat` and
`visible_job`, which answer exactly as for an id that does not exist (404, same body): what
lies outside the scope is not revealed, not even its existence.

The web blueprints call `check_ids` on every request's URL ids before the view runs, so a new
route under /chats/<chat_id>/... is limited without doing anything; lists and counts are
limited where they are queried (the query functions take a required `scope`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from chatcenter.errors import NotFound
from chatcenter.models import Chat, Reply, Seller

ADMIN, AGENT = "admin", "agent"
ROLES = (ADMIN, AGENT)


@dataclass(frozen=True)
class Scope:
    """`seller_ids`: the sellers visible, None for every seller (an admin, an unrestricted
    key). `read_only`: the principal may read but not ask for anything (a read-only key)."""

    seller_ids: frozenset[int] | None = None
    read_only: bool = False

    @property
    def all_sellers(self) -> bool:
        """An admin or an unrestricted key: also the pages and lists not tied to a seller (jobs)."""
        return self.seller_ids is None

    def sees(self, seller_id: int | None) -> bool:
        return self.seller_ids is None or seller_id in self.seller_ids

    def limit(self, seller_column) -> list:
        """The conditions that keep a query to the visible sellers: none for every seller;
        `seller_id IN (...)` otherwise (false for no seller, rather than an empty IN)."""
        if self.seller_ids is None:
            return []
        if not self.seller_ids:
            return [false()]
        return [seller_column.in_(sorted(self.seller_ids))]

    def keep(self, seller_ids: Iterable[int]) -> list[int]:
        return [s for s in seller_ids if self.sees(s)]


EVERYTHING = Scope()  # the CLI (whoever has the shell has the database) and admins


def of_operator(role: str, granted: Iterable[int]) -> Scope:
    return EVERYTHING if role == ADMIN else Scope(frozenset(granted))


def visible_seller(session: Session, scope: Scope, seller_id: int) -> int:
    """The seller's id, or NotFound as for a seller that does not exist."""
    if not scope.sees(seller_id) or session.get(Seller, seller_id) is None:
        raise NotFound.of("seller", seller_id)
    return seller_id


def visible_chat(session: Session, scope: Scope, chat_id: int) -> int:
    """The chat's seller id, or NotFound as for a chat that does not exist."""
    seller_id = session.scalar(select(Chat.seller_id).where(Chat.id == chat_id))
    if seller_id is None or not scope.sees(seller_id):
        raise NotFound.of("chat", chat_id)
    return seller_id


def job_sellers(session: Session, subjects: list[dict | None]) -> list[int | None]:
    """The seller of each job subject ({"seller_id": N}, {"chat_id": N}, {"reply_id": N} as
    job_board gives them; None for a job of no seller), in two queries at most."""
    chat_ids = {s["chat_id"] for s in subjects if s and "chat_id" in s}
    reply_ids = {s["reply_id"] for s in subjects if s and "reply_id" in s}
    of_chat = dict(session.execute(select(Chat.id, Chat.seller_id).where(Chat.id.in_(chat_ids))).all()) \
        if chat_ids else {}
    of_reply = dict(session.execute(select(Reply.id, Chat.seller_id).join(Chat, Chat.id == Reply.chat_id)
                                    .where(Reply.id.in_(reply_ids))).all()) if reply_ids else {}
    found = []
    for subject in subjects:
        if not subject:
            found.append(None)
        elif "seller_id" in subject:
            found.append(subject["seller_id"])
        elif "chat_id" in subject:
            found.append(of_chat.get(subject["chat_id"]))
        else:
            found.append(of_reply.get(subject.get("reply_id")))
    return found


def visible_jobs(session: Session, scope: Scope, views: list[dict]) -> list[dict]:
    """The job views (job_board.summary) whose subject belongs to a visible seller; with every
    seller visible, all of them (jobs of no seller too)."""
    if scope.all_sellers:
        return views
    sellers = job_sellers(session, [view["subject"] for view in views])
    return [view for view, seller_id in zip(views, sellers) if seller_id is not None and scope.sees(seller_id)]


def visible_job(session: Session, scope: Scope, job_id: str) -> None:
    """NotFound (as job_board answers for an unknown job) unless the job's subject is visible."""
    from chatcenter.job_board import JobNotFound, subject_of  # job_board reads queries; imported when used

    if scope.all_sellers:
        return
    [seller_id] = job_sellers(session, [subject_of(job_id)])
    if seller_id is None or not scope.sees(seller_id):
        raise JobNotFound(job_id)


# The URL ids that name a seller's thing, and how each is checked.
_CHECKS = {"seller_id": visible_seller, "chat_id": visible_chat, "job_id": visible_job}


def check_ids(session: Session, scope: Scope, view_args: dict | None) -> None:
    """Refuse (404) a request whose URL names a seller, chat or job outside the scope: called
    by the API's and the inbox's before_request, so every route with such an id is covered,
    whatever it then does. An admin's or unrestricted key's request costs nothing here."""
    if scope.all_sellers:
        return
    for name, value in (view_args or {}).items():
        check = _CHECKS.get(name)
        if check is not None:
            check(session, scope, value)
