"""`flask sync SELLER_ID [--now]` and `flask analyze CHAT_ID [--now]`."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from chatcenter import actions, runtime
from chatcenter.cli.one_line import CommandFailed, one_line_errors
from chatcenter.job_rules import run_now
from chatcenter.models import Chat, Seller
from chatcenter.queries import KEY_INT_MAX
from chatcenter.queues import ANALYSIS_JOB, SYNC_JOB


def _require(model, row_id: int, what: str) -> None:
    with runtime.get().db.session() as session:
        if not 1 <= row_id <= KEY_INT_MAX or session.get(model, row_id) is None:
            # A person must act (a wrong id): one line and exit 1, not Click's usage text (exit 2).
            raise CommandFailed(f"{what} {row_id} does not exist")


@click.command("sync", help="Sync a seller's chats from WB: enqueue it, or run it here with --now.")
@click.argument("seller_id", type=int)
@click.option("--now", is_flag=True, help="run in this process and print what it added")
@with_appcontext
@one_line_errors
def sync_command(seller_id: int, now: bool):
    _require(Seller, seller_id, "seller")
    resources = runtime.get()
    if not now:
        click.echo(actions.request_sync(resources, seller_id).message)
        return
    from jobs.sync import SyncResult, sync_seller_chats

    result = run_now(resources.redis, SYNC_JOB.job_id(seller_id), sync_seller_chats, seller_id)
    if "skipped" in result:
        raise CommandFailed(f"sync of seller {seller_id} skipped: {result['skipped']}", transient=True)
    click.echo(f"seller {seller_id}: {SyncResult(**result).describe()}")


@click.command("analyze", help="Analyse a chat with DeepSeek: enqueue it, or run it here with --now.")
@click.argument("chat_id", type=int)
@click.option("--now", is_flag=True, help="run in this process and print the stored analysis as JSON")
@with_appcontext
@one_line_errors
def analyze_command(chat_id: int, now: bool):
    _require(Chat, chat_id, "chat")
    resources = runtime.get()
    if not now:
        click.echo(actions.request_analysis(resources, chat_id, force=True).message)
        return
    if not resources.settings.analysis_enabled:
        raise actions.AnalysisOff()
    from jobs.analysis import analyze_chat_with_ai

    # A person asked: analysed again even when no message came since the last analysis.
    result = run_now(resources.redis, ANALYSIS_JOB.job_id(chat_id), analyze_chat_with_ai, chat_id, True)
    if result.get("analysis") is None:
        raise CommandFailed(f"analysis of chat {chat_id} skipped: {result['skipped']}", transient=True)
    click.echo(json.dumps(result["analysis"], ensure_ascii=False, indent=2))
