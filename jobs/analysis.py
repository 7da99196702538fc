"""analyze_chat_with_ai: have DeepSeek analyse one chat and store the validated answer."""
from __future__ import annotations

import logging

from sqlalchemy import select

from chatcenter import privacy
from chatcenter.analysis import MAX_TOKENS, InvalidAnalysis, build_messages, validate
from chatcenter.deepseek import DeepSeekClient, DeepSeekError
from chatcenter.models import Analysis, Chat, Message
from chatcenter.runtime import current
from jobs.failures import PermanentJobError, no_more_retries
from jobs.leases import exclusive_run

log = logging.getLogger("jobs.analysis")

HISTORY_LIMIT = 200  # newest messages read from the database; the prompt budget trims further
LOCK_LEASE = 300


class AnalysisRejected(Exception):
    """DeepSeek answered, but not in the schema: transient, the job retries."""


def analyze_chat_with_ai(chat_id: int) -> dict:
    privacy.clear_personal()
    runtime = current()
    settings = runtime.settings
    if not settings.deepseek_api_key:
        no_more_retries()
        raise PermanentJobError("DEEPSEEK_API_KEY is not set: chat analysis is off until it is configured")
    privacy.register_secret(settings.deepseek_api_key)

    with exclusive_run(runtime.redis, f"analyze-chat-{chat_id}", LOCK_LEASE) as lease:
        if lease is None:
            log.info("chat %s: another analysis is running; this one does nothing", chat_id)
            return {"chat_id": chat_id, "skipped": "another analysis of this chat is running"}
        return _analyze(runtime, chat_id)


def _analyze(runtime, chat_id: int) -> dict:
    settings = runtime.settings
    with runtime.db.session() as session:
        chat = session.get(Chat, chat_id)
        if chat is None:
            no_more_retries()
            raise PermanentJobError(f"chat {chat_id} does not exist")
        history = session.scalars(
            select(Message).where(Message.chat_id == chat_id)
            .order_by(Message.sent_at.desc(), Message.id.desc()).limit(HISTORY_LIMIT)
        ).all()
        if not history:
            return {"chat_id": chat_id, "skipped": "chat has no messages", "analysis": None}
        latest = session.scalars(
            select(Analysis).where(Analysis.chat_id == chat_id).order_by(Analysis.id.desc()).limit(1)
        ).first()
        if latest is not None and latest.last_message_id == history[0].id:
            log.info("chat %s: no new message since analysis %s; nothing to do", chat_id, latest.id)
            return {"chat_id": chat_id, "skipped": "no new message since the last analysis",
                    "analysis": latest.as_dict()}
        # DeepSeek may quote the prompt back in an error message (and the raw answer is
        # a frame variable): the texts sent and the buyer's name get masked wherever.
        privacy.register_personal(chat.client_name)
        for message in history:
            privacy.register_personal(message.text)
        prompt = build_messages(history, chat.good_card)
        newest_id = history[0].id

    client = DeepSeekClient(settings.deepseek_api_base_url, settings.deepseek_api_key, settings.deepseek_model)
    try:
        with client:
            completion = client.complete_json(prompt, max_tokens=MAX_TOKENS)
        result = validate(completion.data)
    except DeepSeekError as exc:
        if not exc.transient:
            no_more_retries()  # bad key, no balance, bad request: retrying cannot help
        log.warning("chat %s: DeepSeek failed: %s", chat_id, exc)
        raise
    except InvalidAnalysis as exc:
        log.warning("chat %s: DeepSeek's answer was rejected: %s", chat_id, exc)
        raise AnalysisRejected(f"DeepSeek's answer was rejected: {exc}") from None

    with runtime.db.session() as session:
        analysis = Analysis(
            chat_id=chat_id, last_message_id=newest_id, model=completion.model,
            prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
            sentiment=result.sentiment, category=result.category, urgency=result.urgency,
            summary=result.summary, suggested_reply=result.suggested_reply,
        )
        session.add(analysis)
        session.flush()
        stored = analysis.as_dict()
    log.info("chat %s analysed: analysis %s (%s, %s, %s; %s tokens)", chat_id, stored["id"],
             result.sentiment, result.category, result.urgency,
             completion.prompt_tokens + completion.completion_tokens)
    return {"chat_id": chat_id, "analysis": stored}
