"""`flask --app chatcenter ...`: the operators' commands, one module per group.

Results go to stdout, logs to stderr. Every failure ends with one line on stderr that
says what failed and what to do, and exit status 1 (permanent) or 75 (transient: a later
run may succeed, or another run holds the subject); `--verbose` adds the traceback.
"""
from __future__ import annotations

from flask import Flask

from chatcenter.cli import api_keys, attachments, chats, db, jobs, operators, pollers, sellers, sentry, templates


def register_commands(app: Flask) -> None:
    for command in (db.db_group, sellers.sellers_group, jobs.sync_command, jobs.analyze_command,
                    operators.operators_group, sentry.sentry_check_command, api_keys.api_keys_group,
                    chats.chats_group, pollers.pollers_command, templates.templates_group,
                    attachments.attachments_group):
        app.cli.add_command(command)
