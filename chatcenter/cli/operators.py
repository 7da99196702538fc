"""`flask operators add|list|set-password|disable|enable`: the accounts that sign in to the inbox."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from chatcenter import runtime
from chatcenter.cli.failures import CommandFailed, one_line_errors
from chatcenter.operators import (
    PASSWORD_MIN, check_password_rules, create_operator, disable_operator, enable_operator, find_operator,
    list_operators, set_password,
)


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


@operators_group.command("add", help="Add an operator; the password is read from standard input or a hidden prompt.")
@click.argument("email")
@one_line_errors
def operators_add(email: str):
    password = _read_password()
    with runtime.get().db.session() as session:
        operator = create_operator(session, email, password)
        session.flush()
        operator_id, stored_email = operator.id, operator.email
    click.echo(f"operator {stored_email} added; they can sign in at the inbox's /login")
    click.echo(operator_id)


@operators_group.command("list", help="List operators: id, e-mail, active or disabled, last sign-in.")
@one_line_errors
def operators_list():
    with runtime.get().db.session() as session:
        for operator in list_operators(session):
            state = "active" if operator.active else "disabled"
            last = operator.last_login_at.isoformat(timespec="seconds") if operator.last_login_at else "never"
            click.echo(f"{operator.id}\t{operator.email}\t{state}\tlast sign-in: {last}")


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
