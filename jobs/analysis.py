"""analyze_chat_with_ai: have DeepSeek analyse one chat and store the validated answer."""
from __future__ import annotations

import logging

from sqlalchemy import select

from chatcenter import runtime
from chatcenter.actions import AnalysisOff
from chatcenter.chat_store import settle_analysis_due, store_analysis
from chatcenter.clients.deepseek import DeepSeekClient, DeepSeekError
from chatcenter.failures import PermanentJobError, TransientJobError
from chatcenter.metrics import Recorder
from chatcenter.models import Analysis, Chat, Message
from chatcenter.prompt import MAX_TOKENS, InvalidAnalysis, build_messages, validate

log = logging.getLogger("jobs.analysis")

HISTORY_LIMIT = 200  # newest messages read from the database; the prompt budget trims further


class AnalysisRejected(TransientJobError):
    """DeepSeek answered, but not in the schema: the job tries again."""


def analyze_chat_with_ai(chat_id: int, force: bool = False) -> dict:
    """`force`: analyse again even if no message came since the last analysis ("Analyse
    again" on the chat page, `flask analyze`); the sync and the poller do not force."""
    resources = runtime.get()
    settings = resources.settings
    if not settings.analysis_enabled:
        raise AnalysisOff()

    with resources.db.session() as session:
        chat = session.get(Chat, chat_id)
        if chat is None:
            raise PermanentJobError(f"chat {chat_id} does not exist")
        history = session.scalars(
            select(Message).where(Message.chat_id == chat_id)
            .order_by(Message.sent_at.desc(), Message.id.desc()).limit(HISTORY_LIMIT)
        ).all()
        if not history:
            return {"chat_id": chat_id, "skipped": "chat has no messages", "analysis": None}
        latest = session.get(Analysis, chat.latest_analysis_id) if chat.latest_analysis_id else None
        if not force and latest is not None and latest.last_message_id == history[0].id:
            settle_analysis_due(session, chat, max(m.id for m in history))
            log.info("chat %s: no new message since analysis %s; nothing to do", chat_id, latest.id)
            return {"chat_id": chat_id, "skipped": "no new message since the last analysis",
                    "analysis": latest.as_dict()}
        prompt = build_messages(history, chat.good_card)
        newest_id = history[0].id
        read_up_to = max(m.id for m in history)  # a late, older message may have the highest id

    with DeepSeekClient(settings.deepseek_api_base_url, settings.deepseek_api_key, settings.deepseek_model,
                        metrics=Recorder(resources.redis)) as client:
        try:
            completion = client.complete_json(prompt, max_tokens=MAX_TOKENS)
            result = validate(completion.data)
        # INFO: the failure itself is told once by whoever ran the job (the worker's line,
        # or the command's one error line), not twice.
        except DeepSeekError as exc:
            log.info("chat %s: DeepSeek failed: %s", chat_id, exc)
            raise
        except InvalidAnalysis as exc:
            log.info("chat %s: DeepSeek's answer was rejected: %s", chat_id, exc)
            raise AnalysisRejected(f"DeepSeek's answer was rejected: {exc}") from None

    with resources.db.session() as session:
        analysis = Analysis(
            chat_id=chat_id, last_message_id=newest_id, model=completion.model,
            prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
            sentiment=result.sentiment, category=result.category, urgency=result.urgency,
            summary=result.summary, suggested_reply=result.suggested_reply,
        )
        store_analysis(session, session.get(Chat, chat_id), analysis, read_up_to)
        stored = analysis.as_dict()
    log.info("chat %s analysed: analysis %s (%s, %s, %s; %s tokens)", chat_id, stored["id"],
             result.sentiment, result.category, result.urgency,
             completion.prompt_tokens + completion.completion_tokens)
    return {"chat_id": chat_id, "analysis": stored}
