"""Everything HTTP: error answers, request ids, the access-log fields and the blueprints
(health, the operator inbox)."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from chatcenter.config import Settings
from chatcenter.observability import scrubber
from chatcenter.web import access_log, reads, request_id
from chatcenter.web.api import bp as api_bp
from chatcenter.web.errors import register_error_handlers
from chatcenter.web import health, metrics
from chatcenter.web.inbox import init_inbox


def init_web(app: Flask, settings: Settings) -> None:
    # A server thread handles request after request: values one request registered for
    # masking (scrubber.register_personal) are forgotten when the next begins (not at
    # teardown: the request's transaction is sent after it and must still be masked).
    app.before_request(scrubber.clear_personal)
    request_id.init_app(app)
    access_log.init_app(app)
    reads.init_app(app)
    if settings.proxy_count:
        # Trust X-Forwarded-For/-Proto/-Host from exactly proxy_count proxies (nginx: 1);
        # with 0 they are ignored, so a client cannot forge its address or scheme.
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    register_error_handlers(app)
    health.init_app(app, settings)
    app.register_blueprint(api_bp)
    app.register_blueprint(metrics.bp)
    init_inbox(app, settings)
