"""Inbox operators: the people who sign in to answer buyers.

Passwords are stored as werkzeug scrypt hashes and never logged; an e-mail is an
operator's login name (personal data: shown to the operator and on the CLI, never logged).
"""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from chatcenter.actions import InvalidInput, NotFound
from chatcenter.models import Operator, utcnow

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
        raise InvalidInput("email", "must be a string")
    email = email.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise InvalidInput("email", f"must look like name@example.com, at most {EMAIL_MAX} characters")
    return email


def check_password_rules(password) -> str:
    if not isinstance(password, str):
        raise InvalidInput("password", "must be a string")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput("password", f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters, got {len(password)}")
    return password


def create_operator(session: Session, email, password) -> Operator:
    email, password = normalise_email(email), check_password_rules(password)
    if session.scalar(select(Operator.id).where(func.lower(Operator.email) == email)) is not None:
        raise DuplicateOperator()
    operator = Operator(email=email, password_hash=generate_password_hash(password, method="scrypt"),
                        active=True, created_at=utcnow())
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
    except InvalidInput:
        email = ""
    operator = session.scalar(select(Operator).where(Operator.email == email)) if email else None
    password = password if isinstance(password, str) and len(password) <= PASSWORD_MAX else ""
    matches = check_password_hash(operator.password_hash if operator else _DUMMY_HASH, password)
    return operator if operator is not None and matches else None


def session_holder(session: Session, operator_id: int):
    """The id, e-mail, password hash and state of an operator (None if unknown), as a plain
    row through the Core: it is read on every page request to check the session."""
    operators = Operator.__table__.c
    return session.connection().execute(
        select(operators.id, operators.email, operators.password_hash, operators.active)
        .where(operators.id == operator_id)).first()


def record_login(session: Session, operator_id: int) -> None:
    operator = session.get(Operator, operator_id)
    if operator is not None:
        operator.last_login_at = utcnow()


def disable_operator(session: Session, operator_id: int) -> Operator:
    """Disable an account; its open sessions stop at their next request (checked each time)."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise NotFound(f"operator {operator_id} does not exist")
    operator.active = False
    return operator


def list_operators(session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.id)))
