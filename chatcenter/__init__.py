"""chatcenter: the back end of a marketplace seller's chat center."""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from chatcenter import privacy, request_id, request_log
from chatcenter.config import Settings, load_settings_or_exit
from chatcenter.release import __version__
from chatcenter.runtime import Runtime, install

__all__ = ["create_app", "configure_logging", "__version__"]


def configure_logging(level: int = logging.INFO) -> None:
    """One plain line per record on stderr, unless the host (gunicorn, pytest) set logging up."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("chatcenter").setLevel(level)
    request_log.install_log_context()  # request and job ids on every line (web, worker, cron)


def create_app(config: Settings | None = None) -> Flask:
    """The app factory; tests pass their own Settings, processes read the environment."""
    settings = config if config is not None else load_settings_or_exit()
    configure_logging()

    from chatcenter.sentry import init_sentry

    init_sentry(settings, "web")

    app = Flask(__name__)
    app.config.update(
        # DEBUG only opens the diagnostic routes; errors are always JSON answers, never
        # re-raised to the server or shown by Werkzeug's debugger.
        PROPAGATE_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=settings.max_content_length,
    )
    app.extensions["chatcenter"] = install(Runtime(settings))

    # A server thread handles request after request: the buyer values one request
    # registered are forgotten when the next begins (not at teardown: the request's
    # transaction is sent after it and must still be masked).
    app.before_request(privacy.clear_personal)
    request_id.init_app(app)
    request_log.init_app(app)
    if settings.proxy_count:
        # Trust X-Forwarded-For/-Proto/-Host from exactly proxy_count proxies (nginx: 1);
        # with 0 they are ignored, so a client cannot forge its address or scheme.
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from chatcenter.cli import register_commands
    from chatcenter.errors import register_error_handlers
    from chatcenter.health import bp as health_bp

    register_error_handlers(app)
    app.register_blueprint(health_bp)
    register_commands(app)
    return app
