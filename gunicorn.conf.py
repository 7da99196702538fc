"""gunicorn settings for chatcenter: `gunicorn -c gunicorn.conf.py wsgi:app`.

Everything an operator tunes comes from the environment (systemd's EnvironmentFile,
honcho, or the project's .env; the real environment wins), so one file serves every
machine. See the README's Production section for the variables and their defaults.
"""
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))

from chatcenter.config import load_settings_or_exit, read_env  # noqa: E402
from chatcenter.server_settings import ServerSettings  # noqa: E402

# Every setting, the app's and gunicorn's, is checked here, in the master, before any worker
# is forked: a bad value stops gunicorn with its one line (exit 1) instead of restarting
# workers forever. Ranges and defaults: chatcenter/server_settings.py.
load_settings_or_exit()
_SERVER = ServerSettings.from_mapping(read_env())

# Upper bound on flushing Sentry when a worker exits, below graceful_timeout's margin.
SENTRY_FLUSH_SECONDS = 2.0

wsgi_app = "wsgi:app"
# Loopback unless GUNICORN_BIND says otherwise: nginx is the only way in. PORT (set by
# some hosts) moves the port, never the address (gunicorn alone would use 0.0.0.0).
bind = list(_SERVER.bind)
# Processes x threads = concurrent requests. Threads suit this I/O-bound API (database,
# Redis). gunicorn must not face the internet: nginx in front buffers each request and
# response whole (deploy/nginx), so a slow client never holds one of these threads.
workers = _SERVER.workers
threads = _SERVER.threads
worker_class = "gthread"
# A request silent this long is killed; nginx's proxy_read_timeout must be a bit longer.
timeout = _SERVER.timeout
# On SIGTERM/HUP, requests in flight get this long; systemd's TimeoutStopSec is longer.
graceful_timeout = _SERVER.graceful_timeout
keepalive = _SERVER.keepalive
# Recycle each worker after about this many requests (bounds slow leaks); the jitter
# keeps workers from restarting all at once. 0 turns recycling off.
max_requests = _SERVER.max_requests
max_requests_jitter = _SERVER.max_requests_jitter

# Each worker builds its own app (and Sentry client) after the fork: never preload, a
# client created before fork would lose its sender thread in the children.
preload_app = False
proc_name = "chatcenter-web"  # in ps, when setproctitle is installed

# ProxyFix in the app (PROXY_COUNT) is the one place proxy headers are trusted; gunicorn's
# own X-Forwarded-Proto handling would trust any local client, so it is off.
forwarded_allow_ips = ""
secure_scheme_headers = {}

# Off by default: one fixed socket path per user would clash between instances.
control_socket_disable = not _SERVER.control_socket
if not control_socket_disable:
    control_socket = _SERVER.control_socket

loglevel = _SERVER.loglevel
errorlog = "-"
accesslog = _SERVER.accesslog  # "-": stdout, i.e. the journal
# logfmt, one line per request; the app fills chatcenter.* (see chatcenter/web/access_log.py)
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
