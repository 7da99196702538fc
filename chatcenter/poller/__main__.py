"""The poller process: `python -m chatcenter.poller`. Runs the poller until SIGTERM.

Run as many as you like, on any hosts sharing Redis and the database: the live pollers
split the sellers between them (chatcenter/poller/membership.py), each seller is polled by
one of them every SYNC_INTERVAL_SECONDS, and a poller that dies is replaced by the others
within MEMBER_TTL + BEAT seconds.
"""
from __future__ import annotations

import logging
import signal
import threading

from chatcenter import runtime, startup
from chatcenter.observability import poller_monitor
from chatcenter.poller.loop import Hooks, Poller

log = logging.getLogger("chatcenter.poller")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (systemd, honcho) or SIGINT (Ctrl-C)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main() -> None:
    from chatcenter import create_app

    app = create_app(component="poller")  # Sentry (component tag "poller") for errors of this process itself
    with app.app_context():
        resources = runtime.get()
        startup.require_dependencies(resources)
        stop = stop_on_signals()
        poller = Poller(resources, hooks=Hooks(check_in=poller_monitor.check_in,
                                               pass_failed=poller_monitor.report_failed_pass))
        log.info("poller %s: polling its share of the active sellers every %d seconds", poller.poller_id,
                 resources.settings.sync_interval_seconds)
        try:
            poller.run(stop)
        finally:
            poller.close()
        log.info("poller %s: stopped", poller.poller_id)


if __name__ == "__main__":
    main()
