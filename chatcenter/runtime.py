"""Per-process resources (settings, database, Redis) shared by web, worker and CLI.

The web app builds one in create_app; the worker builds one at start. Jobs call
current() so they get the same resources without a second Sentry initialisation.
"""
from __future__ import annotations

from functools import cached_property

from redis import Redis

from chatcenter.config import Settings
from chatcenter.db import Database

# Short socket timeouts: a Redis that is down or slow must not hang a request.
REDIS_CONNECT_TIMEOUT = 2.0
REDIS_SOCKET_TIMEOUT = 5.0


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def redis(self) -> Redis:
        return Redis.from_url(
            self.settings.redis_url,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
            health_check_interval=30,
        )

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


_current: Runtime | None = None


def install(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    """The process's runtime; built from the environment on first use (worker, CLI)."""
    global _current
    if _current is None:
        from chatcenter.config import load_settings_or_exit

        _current = Runtime(load_settings_or_exit())
    return _current
