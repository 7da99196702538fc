"""gunicorn's own variables, validated like every other: a range each, one line when wrong.

gunicorn.conf.py reads them from here (in the master, before any worker is forked); every
other process checks them too at start (config.load_settings_or_exit), so a bad value in
the shared `.env` is found by whichever process starts first.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from chatcenter.config import ConfigError, int_between, clean

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
PORT_RANGE = (1, 65535)


# A worker is replaced after this many requests (a bound on slow leaks). The soak showed no
# growth; a replacement costs about a second of a core (imports, the app) and, every
# thousand requests as before, it set the API's p99 under load.
MAX_REQUESTS = 50_000


@dataclass(frozen=True)
class ServerSettings:
    bind: tuple[str, ...] = ("127.0.0.1:8000",)
    workers: int = 1
    threads: int = 4
    timeout: int = 30
    graceful_timeout: int = 30
    keepalive: int = 5
    max_requests: int = MAX_REQUESTS
    max_requests_jitter: int = MAX_REQUESTS // 10
    loglevel: str = "info"
    accesslog: str = "-"
    control_socket: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> "ServerSettings":
        def number(name: str, default: int, low: int, high: int) -> int:
            raw = clean(name, values.get(name, ""))
            return int_between(low, high)(name, raw) if raw else default

        def text(name: str, default: str) -> str:
            return clean(name, values.get(name, "")) or default

        max_requests = number("GUNICORN_MAX_REQUESTS", MAX_REQUESTS, 0, 10_000_000)
        return cls(
            bind=_bind(text("GUNICORN_BIND", ""), number("PORT", 8000, *PORT_RANGE)),
            # 2 x CPUs + 1 suits an I/O-bound app; more than 64 processes is a typo, not a plan.
            workers=number("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8), 1, 64),
            threads=number("GUNICORN_THREADS", 4, 1, 64),
            timeout=number("GUNICORN_TIMEOUT", 30, 1, 3600),
            graceful_timeout=number("GUNICORN_GRACEFUL_TIMEOUT", 30, 1, 3600),
            keepalive=number("GUNICORN_KEEPALIVE", 5, 1, 300),
            max_requests=max_requests,
            max_requests_jitter=number("GUNICORN_MAX_REQUESTS_JITTER", max_requests // 10, 0, 10_000_000),
            loglevel=_loglevel(text("GUNICORN_LOGLEVEL", "info")),
            accesslog=text("GUNICORN_ACCESSLOG", "-"),
            control_socket=text("GUNICORN_CONTROL_SOCKET", ""),
        )


def _loglevel(raw: str) -> str:
    if raw.lower() not in LOG_LEVELS:
        raise ConfigError(f"GUNICORN_LOGLEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return raw.lower()


def _bind(raw: str, port: int) -> tuple[str, ...]:
    """GUNICORN_BIND's addresses, or loopback on PORT: nginx is the only way in."""
    addresses = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in addresses:
        if address.startswith(("unix:", "fd://")):
            continue
        host, colon, port_text = address.rpartition(":")
        low, high = PORT_RANGE
        if not (colon and host and port_text.isdigit() and low <= int(port_text) <= high):
            raise ConfigError(f"GUNICORN_BIND must be comma-separated HOST:PORT (port {low} to {high}) or "
                              f"unix:/path addresses, got {address!r}")
    return addresses or (f"127.0.0.1:{port}",)
