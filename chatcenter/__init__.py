"""chatcenter: the back end of a marketplace seller's chat center."""
from __future__ import annotations

import logging

import click
from flask import Flask

from chatcenter.config import Settings, load_settings_or_exit
from chatcenter.observability.logs import configure_logging
from chatcenter.observability.release import __version__
from chatcenter.observability.sentry import init_sentry
from chatcenter.runtime import EXTENSION, Resources

__all__ = ["create_app", "__version__"]

log = logging.getLogger("chatcenter")


def create_app(config: Settings | None = None, component: str | None = None) -> Flask:
    """The app factory for every process: web (gunicorn), cli (`flask`), worker and cron.

    Tests pass their own Settings; processes read the environment. Without `component`
    the `flask` command is "cli" and anything else (wsgi.py, tests) "web".
    """
    settings = config if config is not None else load_settings_or_exit()
    if component is None:
        component = "cli" if click.get_current_context(silent=True) is not None else "web"
    # A command's result is its stdout; its stderr carries warnings and the failure line
    # (INFO comes back with --verbose). Long-running processes log INFO.
    configure_logging(logging.WARNING if component == "cli" else logging.INFO)
    for notice in settings.notices:
        log.warning("%s", notice)
    init_sentry(settings, component)

    # static_folder=None: the inbox blueprint serves its own files; no bare /static route.
    app = Flask(__name__, static_folder=None)
    app.config.update(
        # DEBUG only opens the diagnostic routes; errors are always JSON answers, never
        # re-raised to the server or shown by Werkzeug's debugger.
        PROPAGATE_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=settings.max_content_length,
    )
    from chatcenter.web.json_answers import AnswerJSONProvider

    app.json = AnswerJSONProvider(app)  # orjson; answers keep the order they are written in
    app.extensions[EXTENSION] = Resources(settings)

    from chatcenter.cli import register_commands
    from chatcenter.web import init_web

    init_web(app, settings)
    register_commands(app)
    return app
