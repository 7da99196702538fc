"""`flask operators add|list|set-password|disable|enable|set-role|grant|revoke`: the accounts
that sign in to the inbox, and which sellers each sees (chatcenter/scope.py)."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from chatcenter import runtime
from chatcenter.cli.one_line import CommandFailed, one_line_errors
from chatcenter.contract import ID_MAX
from chatcenter.operators import (
    PASSWORD_MIN, check_password_rules, create_operator, disable_operator, enable_operator, find_operator,
    grant, granted_sellers, list_operators, revoke, set_password, set_role,
)
from chatcenter.scope import ADMIN, ROLES

ROLE = click.Choice(ROLES)
SELLER_ID = click.IntRange(1, ID_MAX)


@click.group("operators", cls=AppGroup, help="People who sign in to the inbox in the browser.")
def operators_group():
    pass


def _read_password() -> str:
    """From a hidden prompt (typed twice) or, when piped, the first line of standard input."""
    if sys.stdin.isatty():
        password = click.prompt(f"Password (at least {PASSWORD_MIN} characters)", hide_input=True,
                                confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError("no password on standard input "
                               "(e.g. `printf %s \"$PASSWORD\" | flask operators add EMAIL`)")
    try:
        return check_password_rules(password)
    except ValueError as exc:
        raise CommandFailed(str(exc)) from None


@operators_group.command("add", help="Add an operator; the password is read from standard input or a hidden prompt. "
                         "--role agent: they see only the sellers granted (`flask operators grant`); "
                         "admin (the default): every seller, and the Jobs and Reports pages.")
@click.argument("email")
@click.option("--role", type=ROLE, default=ADMIN, show_default=True, help="admin or agent")
@one_line_errors
def operators_add(email: str, role: str):
    password = _read_password()
    with runtime.get().db.session() as session:
        operator = create_operator(session, email, password, role)
        session.flush()
        operator_id, stored_email = operator.id, operator.email
    click.echo(f"operator {stored_email} added as {role}; they can sign in at the inbox's /login")
    if role != ADMIN:
        click.echo(f"they see no seller until one is granted: flask operators grant {stored_email} SELLER_ID")
    click.echo(operator_id)


def _sees(role: str, sellers: list[int]) -> str:
    if role == ADMIN:
        return "all sellers"
    return f"sellers {', '.join(map(str, sellers))}" if sellers else "no sellers"


@operators_group.command("list", help="List operators: id, e-mail, active or disabled, role, the sellers they see, "
                         "last sign-in.")
@one_line_errors
def operators_list():
    with runtime.get().db.session() as session:
        for operator in list_operators(session):
            state = "active" if operator.active else "disabled"
            last = operator.last_login_at.isoformat(timespec="seconds") if operator.last_login_at else "never"
            sees = _sees(operator.role, granted_sellers(session, operator.id))
            click.echo(f"{operator.id}\t{operator.email}\t{state}\t{operator.role}\t{sees}\tlast sign-in: {last}")


@operators_group.command("set-role", help="Make an operator an admin (every seller, the Jobs and Reports pages) or "
                         "an agent (only the sellers granted); counts from their next request. "
                         "OPERATOR: an e-mail or an id.")
@click.argument("operator")
@click.argument("role", type=ROLE)
@one_line_errors
def operators_set_role(operator: str, role: str):
    with runtime.get().db.session() as session:
        found = find_operator(session, operator)
        set_role(session, found, role)
        operator_id, sees = found.id, _sees(role, granted_sellers(session, found.id))
    click.echo(f"operator {operator_id} is now {role}: they see {sees}")


@operators_group.command("grant", help="Let an agent see and answer a seller's chats (from their next request). "
                         "OPERATOR: an e-mail or an id.")
@click.argument("operator")
@click.argument("seller_id", type=SELLER_ID)
@one_line_errors
def operators_grant(operator: str, seller_id: int):
    with runtime.get().db.session() as session:
        found = find_operator(session, operator)
        added = grant(session, found, seller_id)
        operator_id, role = found.id, found.role
    click.echo(f"operator {operator_id} {'may now see' if added else 'could already see'} seller {seller_id}")
    if role == ADMIN:
        click.echo(f"note: operator {operator_id} is an admin and sees every seller; "
                   f"`flask operators set-role {operator_id} agent` limits them to the sellers granted")


@operators_group.command("revoke", help="An agent no longer sees a seller (from their next request). "
                         "OPERATOR: an e-mail or an id.")
@click.argument("operator")
@click.argument("seller_id", type=SELLER_ID)
@one_line_errors
def operators_revoke(operator: str, seller_id: int):
    with runtime.get().db.session() as session:
        found = find_operator(session, operator)
        removed = revoke(session, found, seller_id)
        operator_id, role = found.id, found.role
    click.echo(f"operator {operator_id} {'no longer sees' if removed else 'had no grant for'} seller {seller_id}")
    if role == ADMIN:
        click.echo(f"note: operator {operator_id} is an admin and still sees every seller")


@operators_group.command("set-password", help="Set an operator's password (from standard input or a hidden "
                         "prompt); every session of theirs ends at once. OPERATOR: an e-mail or an id.")
@click.argument("operator")
@one_line_errors
def operators_set_password(operator: str):
    password = _read_password()
    with runtime.get().db.session() as session:
        found = find_operator(session, operator)
        set_password(session, found, password)
        operator_id = found.id
    click.echo(f"operator {operator_id}: password changed; their open sessions have ended")


@operators_group.command("disable", help="Disable an operator; every session of theirs ends at once. "
                         "OPERATOR: an e-mail or an id.")
@click.argument("operator")
@one_line_errors
def operators_disable(operator: str):
    with runtime.get().db.session() as session:
        operator_id = find_operator(session, operator).id
        disable_operator(session, operator_id)
    click.echo(f"operator {operator_id} disabled; their open sessions have ended")


@operators_group.command("enable", help="Enable a disabled operator again (they sign in anew). "
                         "OPERATOR: an e-mail or an id.")
@click.argument("operator")
@one_line_errors
def operators_enable(operator: str):
    with runtime.get().db.session() as session:
        found = find_operator(session, operator)
        enable_operator(session, found)
        operator_id = found.id
    click.echo(f"operator {operator_id} enabled; they can sign in again")
