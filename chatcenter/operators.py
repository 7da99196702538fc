"""Inbox operators: the people who sign in to answer buyers.

Passwords are stored as werkzeug scrypt hashes and never logged; an e-mail is an
operator's login name (personal data: shown to the operator and on the CLI, never logged).
"""
from __future__ import annotations

import re

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from chatcenter.errors import BadInput
from chatcenter.actions import NotFound
from chatcenter.models import Operator, OperatorSeller, Seller, utcnow
from chatcenter.scope import ADMIN, ROLES, Scope, of_operator

PASSWORD_MIN = 12
# scrypt's cost grows with the input: a megabyte "password" must not cost a login a second.
PASSWORD_MAX = 256
EMAIL_MAX = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Checked against when the e-mail is unknown, so a wrong e-mail takes as long as a wrong
# password and the answer time does not tell which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password-only-equalises-timing", method="scrypt")


class DuplicateOperator(ValueError):
    transient = False

    def __init__(self):
        super().__init__("an operator with this e-mail already exists (see `flask operators list`)")


def normalise_email(email) -> str:
    if not isinstance(email, str):
        raise BadInput("email", "must be a string")
    email = email.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise BadInput("email", f"must look like name@example.com, at most {EMAIL_MAX} characters")
    return email


def check_password_rules(password) -> str:
    if not isinstance(password, str):
        raise BadInput("password", "must be a string")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise BadInput("password", f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters, got {len(password)}")
    return password


def check_role(role) -> str:
    if role not in ROLES:
        raise BadInput("role", f"must be one of {', '.join(ROLES)}")
    return role


def create_operator(session: Session, email, password, role: str = ADMIN) -> Operator:
    """A new account; an admin unless `role` says agent (as every operator was before roles)."""
    email, password, role = normalise_email(email), check_password_rules(password), check_role(role)
    if session.scalar(select(Operator.id).where(func.lower(Operator.email) == email)) is not None:
        raise DuplicateOperator()
    operator = Operator(email=email, password_hash=generate_password_hash(password, method="scrypt"),
                        active=True, created_at=utcnow(), role=role)
    session.add(operator)
    try:
        session.flush()
    except IntegrityError:  # added by another process at the same moment
        raise DuplicateOperator() from None
    return operator


def authenticate(session: Session, email: str, password: str) -> Operator | None:
    """The operator whose e-mail and password these are (active or not), or None.

    The caller decides what a disabled account may do; a password is checked in the same
    time whether or not the e-mail exists.
    """
    try:
        email = normalise_email(email)
    except BadInput:
        email = ""
    operator = session.scalar(select(Operator).where(Operator.email == email)) if email else None
    password = password if isinstance(password, str) and len(password) <= PASSWORD_MAX else ""
    matches = check_password_hash(operator.password_hash if operator else _DUMMY_HASH, password)
    return operator if operator is not None and matches else None


def session_holder(session: Session, operator_id: int):
    """The id, e-mail, state, session generation and role of an operator (None if unknown),
    as a plain row through the Core: it is read on every page request to check the session."""
    operators = Operator.__table__.c
    return session.connection().execute(
        select(operators.id, operators.email, operators.active, operators.session_generation, operators.role)
        .where(operators.id == operator_id)).first()


def granted_sellers(session: Session, operator_id: int) -> list[int]:
    grants = OperatorSeller.__table__.c
    return list(session.connection().execute(
        select(grants.seller_id).where(grants.operator_id == operator_id).order_by(grants.seller_id)).scalars())


def scope_of(session: Session, holder) -> Scope:
    """What an operator (a session_holder row) sees: every seller for an admin; for an agent
    the sellers granted, read on each request (one indexed read) so a grant or a revocation
    counts at the next page."""
    return of_operator(holder.role, granted_sellers(session, holder.id) if holder.role != ADMIN else ())


def set_role(session: Session, operator: Operator, role) -> None:
    operator.role = check_role(role)


def grant(session: Session, operator: Operator, seller_id: int) -> bool:
    """Let the operator see the seller; False when it was granted already."""
    if session.get(Seller, seller_id) is None:
        raise NotFound(f"seller {seller_id} does not exist (see `flask sellers list`)")
    if session.get(OperatorSeller, (operator.id, seller_id)) is not None:
        return False
    session.add(OperatorSeller(operator_id=operator.id, seller_id=seller_id))
    try:
        session.flush()
    except IntegrityError:  # granted by another process at the same moment
        session.rollback()
        return False
    return True


def revoke(session: Session, operator: Operator, seller_id: int) -> bool:
    """The operator no longer sees the seller (from their next request); False when it was not granted."""
    found = session.get(OperatorSeller, (operator.id, seller_id))
    if found is None:
        return False
    session.delete(found)
    return True


def end_sessions(session: Session, operator_id: int) -> int:
    """End every inbox session of an operator: the generation their cookies carry is
    raised in one statement (two at once both count). Returns the new generation."""
    operators = Operator.__table__.c
    session.execute(update(Operator).where(operators.id == operator_id)
                    .values(session_generation=operators.session_generation + 1))
    return session.scalar(select(operators.session_generation).where(operators.id == operator_id))


def find_operator(session: Session, who: str) -> Operator:
    """An operator by id ("7") or e-mail, as the CLI names them."""
    who = who.strip()
    if who.isascii() and who.isdigit():
        # Past a 32-bit id no operator exists (and PostgreSQL would refuse the query).
        operator = session.get(Operator, int(who)) if len(who) <= 10 and int(who) < 2**31 else None
    else:
        try:
            operator = session.scalar(select(Operator).where(Operator.email == normalise_email(who)))
        except BadInput:
            operator = None
    if operator is None:
        raise NotFound(f"operator {who} does not exist")
    return operator


def set_password(session: Session, operator: Operator, password) -> int:
    """A new password; every session signed in with the old one ends. Returns the new
    session generation (for the one session that may go on: the one that changed it)."""
    operator.password_hash = generate_password_hash(check_password_rules(password), method="scrypt")
    session.flush()
    return end_sessions(session, operator.id)


def enable_operator(session: Session, operator: Operator) -> None:
    operator.active = True


def record_login(session: Session, operator_id: int) -> None:
    operator = session.get(Operator, operator_id)
    if operator is not None:
        operator.last_login_at = utcnow()


def disable_operator(session: Session, operator_id: int) -> Operator:
    """Disable an account; its open sessions end at their next request."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise NotFound(f"operator {operator_id} does not exist")
    operator.active = False
    session.flush()
    end_sessions(session, operator_id)
    return operator


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.id)))
