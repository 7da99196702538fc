"""gunicorn settings for chatcenter: `gunicorn -c gunicorn.conf.py wsgi:app`.

Everything an operator tunes comes from the environment (systemd's EnvironmentFile,
honcho, or the project's .env; the real environment wins), so one file serves every
machine. See the README's Production section for the variables and their defaults.
"""
import os
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

from chatcenter.config import load_settings_or_exit, read_env  # noqa: E402

_ENV = read_env()
# The app's own settings are checked here, in the master, before any worker is forked: a
# bad value stops gunicorn with its one line instead of restarting workers forever.
load_settings_or_exit()

# Upper bound on flushing Sentry when a worker exits, below graceful_timeout's margin.
SENTRY_FLUSH_SECONDS = 2.0


def _setting(name, default):
    value = _ENV.get(name, "").strip()
    return value if value else default


def _number(name, default, minimum=1):
    raw = _setting(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        # SystemExit, not an exception: gunicorn prints it as one line, no traceback.
        raise SystemExit(f"gunicorn.conf.py: {name} must be a whole number >= {minimum}, got {raw!r}")
    return value


def _default_bind():
    # Loopback unless GUNICORN_BIND says otherwise: nginx is the only way in. PORT (set by
    # some hosts) moves the port, never the address (gunicorn alone would use 0.0.0.0).
    explicit = [b.strip() for b in _setting("GUNICORN_BIND", "").split(",") if b.strip()]
    return explicit or [f"127.0.0.1:{_number('PORT', 8000)}"]


wsgi_app = "wsgi:app"
bind = _default_bind()
# Processes x threads = concurrent requests. Threads suit this I/O-bound API (database,
# Redis). The worker class is gunicorn's gthread, made to hold no thread while a client is
# slow to send its headers or idle (chatcenter/slow_clients.py); nginx in front is the
# real defence against slow clients.
workers = _number("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _number("GUNICORN_THREADS", 4)
worker_class = "chatcenter.slow_clients.HeaderBufferingWorker"
# A request silent this long is killed; nginx's proxy_read_timeout must be a bit longer.
timeout = _number("GUNICORN_TIMEOUT", 30)
# On SIGTERM/HUP, requests in flight get this long; systemd's TimeoutStopSec is longer.
graceful_timeout = _number("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _number("GUNICORN_KEEPALIVE", 5)
# Recycle each worker after about this many requests (bounds slow leaks); the jitter
# keeps workers from restarting all at once. 0 turns recycling off.
max_requests = _number("GUNICORN_MAX_REQUESTS", 1000, minimum=0)
max_requests_jitter = _number("GUNICORN_MAX_REQUESTS_JITTER", max(max_requests // 10, 0), minimum=0)

# Each worker builds its own app (and Sentry client) after the fork: never preload, a
# client created before fork would lose its sender thread in the children.
preload_app = False
proc_name = "chatcenter-web"  # in ps, when setproctitle is installed

# ProxyFix in the app (PROXY_COUNT) is the one place proxy headers are trusted; gunicorn's
# own X-Forwarded-Proto handling would trust any local client, so it is off.
forwarded_allow_ips = ""
secure_scheme_headers = {}

# Off by default: one fixed socket path per user would clash between instances.
control_socket_disable = not _setting("GUNICORN_CONTROL_SOCKET", "")
if not control_socket_disable:
    control_socket = _setting("GUNICORN_CONTROL_SOCKET", "")

loglevel = _setting("GUNICORN_LOGLEVEL", "info")
errorlog = "-"
accesslog = _setting("GUNICORN_ACCESSLOG", "-")  # "-": stdout, i.e. the journal
# logfmt, one line per request; the app fills chatcenter.* (see chatcenter/request_log.py)
# and the X-Request-ID response header. No query string, no client headers.
access_log_format = (
    "request_id=%({x-request-id}o)s method=%(m)s path=%({chatcenter.path}e)s "
    "route=%({chatcenter.route}e)s status=%(s)s duration_ms=%(M)s"
)


def worker_exit(server, worker):
    """Send what Sentry still queues before the worker goes (max_requests, HUP, stop)."""
    from chatcenter.observability.sentry import active_sdk

    sdk = active_sdk()
    if sdk is not None:
        sdk.flush(timeout=SENTRY_FLUSH_SECONDS)
