"""Operator accounts: the module and `flask operators add|list|set-password|disable|enable`."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from chatcenter.errors import BadInput
from chatcenter.models import Operator
from chatcenter.operators import DuplicateOperator, authenticate, create_operator, disable_operator
from tests.helpers import resources
from tests.inbox_support import PASSWORD, add_operator


def stored(app) -> list[Operator]:
    with resources(app).db.session() as session:
        return list(session.scalars(select(Operator).order_by(Operator.id)))


def test_add_reads_the_password_from_stdin_stores_a_scrypt_hash_and_prints_the_id_last(app, runner):
    result = runner.invoke(args=["operators", "add", "  Anna@Shop.Example "], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    operator_id = int(result.output.strip().splitlines()[-1])
    assert PASSWORD not in result.output
    [operator] = stored(app)
    assert (operator.id, operator.email, operator.active) == (operator_id, "anna@shop.example", True)
    assert operator.password_hash.startswith("scrypt:") and PASSWORD not in operator.password_hash
    with resources(app).db.session() as session:
        assert authenticate(session, "ANNA@shop.example", PASSWORD).id == operator_id
        assert authenticate(session, "anna@shop.example", PASSWORD + "x") is None
        assert authenticate(session, "nobody@shop.example", PASSWORD) is None


@pytest.mark.parametrize("password, problem", [
    ("short-pass1", "error: password: must be 12 to 256 characters, got 11"),
    ("x" * 257, "error: password: must be 12 to 256 characters, got 257"),
])
def test_a_password_out_of_bounds_is_one_clear_line_and_stores_nothing(app, runner, password, problem):
    result = runner.invoke(args=["operators", "add", "anna@shop.example"], input=password + "\n")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [problem]
    assert stored(app) == []


def test_no_password_on_stdin_is_a_usage_error(app, runner):
    result = runner.invoke(args=["operators", "add", "anna@shop.example"], input="")
    assert result.exit_code == 2
    assert "no password on standard input" in result.output
    assert stored(app) == []


def test_a_bad_or_taken_email_is_one_clear_line(app, runner):
    add_operator(app, "anna@shop.example")
    result = runner.invoke(args=["operators", "add", "ANNA@shop.example"], input=PASSWORD + "\n")
    assert (result.exit_code, result.output.strip()) == (
        1, "error: an operator with this e-mail already exists (see `flask operators list`)")
    result = runner.invoke(args=["operators", "add", "not-an-email"], input=PASSWORD + "\n")
    assert result.exit_code == 1
    assert result.output.strip() == "error: email: must look like name@example.com, at most 254 characters"
    assert len(stored(app)) == 1


def test_list_and_disable(app, runner):
    first = add_operator(app, "anna@shop.example")
    second = add_operator(app, "boris@shop.example")
    result = runner.invoke(args=["operators", "disable", str(second)])
    assert result.exit_code == 0, result.output
    assert f"operator {second} disabled" in result.output
    listed = runner.invoke(args=["operators", "list"])
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [f"{first}\tanna@shop.example\tactive\tadmin\tall sellers\tlast sign-in: never",
                                          f"{second}\tboris@shop.example\tdisabled\tadmin\tall sellers\t"
                                          "last sign-in: never"]
    missing = runner.invoke(args=["operators", "disable", "999"])
    assert (missing.exit_code, missing.output.strip()) == (1, "error: operator 999 does not exist")


def test_the_module_checks_what_the_command_line_checks(app):
    with resources(app).db.session() as session:
        create_operator(session, "anna@shop.example", PASSWORD)
        with pytest.raises(DuplicateOperator):
            create_operator(session, "Anna@Shop.Example", PASSWORD)
        with pytest.raises(BadInput, match="password"):
            create_operator(session, "boris@shop.example", "too short")
        with pytest.raises(BadInput, match="email"):
            create_operator(session, "boris at shop", PASSWORD)
    with resources(app).db.session() as session:
        operator = disable_operator(session, stored(app)[0].id)
        assert operator.active is False
        # A disabled account still authenticates; the sign-in page answers it as a wrong password.
        assert authenticate(session, "anna@shop.example", PASSWORD).active is False


def generation(app, operator_id: int) -> int:
    with resources(app).db.session() as session:
        return session.get(Operator, operator_id).session_generation


def test_set_password_reads_stdin_takes_an_email_or_an_id_and_ends_every_session(app, runner):
    anna = add_operator(app, "anna@shop.example")
    new = "a brand new passphrase"
    result = runner.invoke(args=["operators", "set-password", "Anna@Shop.Example"], input=new + "\n")
    assert (result.exit_code, result.output) == (0, f"operator {anna}: password changed; their open sessions have ended\n")
    assert new not in result.output
    assert generation(app, anna) == 1
    with resources(app).db.session() as session:
        assert authenticate(session, "anna@shop.example", PASSWORD) is None
        assert authenticate(session, "anna@shop.example", new).id == anna
    assert runner.invoke(args=["operators", "set-password", str(anna)], input=PASSWORD + "\n").exit_code == 0
    assert generation(app, anna) == 2
    short = runner.invoke(args=["operators", "set-password", str(anna)], input="short\n")
    assert (short.exit_code, short.output) == (1, "error: password: must be 12 to 256 characters, got 5\n")
    missing = runner.invoke(args=["operators", "set-password", "nobody@shop.example"], input=PASSWORD + "\n")
    assert (missing.exit_code, missing.output) == (1, "error: operator nobody@shop.example does not exist\n")
    assert generation(app, anna) == 2


def test_disable_and_enable_take_an_email_or_an_id(app, runner):
    anna = add_operator(app, "anna@shop.example")
    assert runner.invoke(args=["operators", "disable", "anna@shop.example"]).exit_code == 0
    assert [o.active for o in stored(app)] == [False] and generation(app, anna) == 1
    result = runner.invoke(args=["operators", "enable", "ANNA@shop.example"])
    assert (result.exit_code, result.output) == (0, f"operator {anna} enabled; they can sign in again\n")
    assert [o.active for o in stored(app)] == [True]
    assert runner.invoke(args=["operators", "disable", str(anna)]).exit_code == 0
    assert runner.invoke(args=["operators", "enable", str(anna)]).exit_code == 0
    assert [o.active for o in stored(app)] == [True]
    for unknown in ("99999999999999999999", "9999999999", "2147483648"):
        missing = runner.invoke(args=["operators", "enable", unknown])
        assert (missing.exit_code, missing.output) == (1, f"error: operator {unknown} does not exist\n")
