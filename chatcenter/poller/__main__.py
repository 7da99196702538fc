"""The cron process (`python -m jobs.cron`, exactly one): runs the poller until SIGTERM.

It keeps every active seller fresh (see jobs/poller.py): each is polled every
SYNC_INTERVAL_SECONDS and its sync enqueued only when WB has news. One process polls
every seller; a second one would poll each seller twice (harmless, but twice the WB
budget), so run exactly one in the whole deployment.
"""
from __future__ import annotations

import logging
import signal
import threading

from chatcenter import runtime, startup
from jobs.poller import Poller

log = logging.getLogger("jobs.cron")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (systemd, honcho) or SIGINT (Ctrl-C)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main() -> None:
    from chatcenter import create_app

    app = create_app(component="cron")  # Sentry for errors of this process itself
    with app.app_context():
        resources = runtime.get()
        startup.require_dependencies(resources)
        stop = stop_on_signals()
        log.info("cron: polling every active seller every %d seconds", resources.settings.sync_interval_seconds)
        poller = Poller(resources)
        try:
            poller.run(stop)
        finally:
            poller.close()
        log.info("cron: stopped")


if __name__ == "__main__":
    main()
