"""The resources of one process (settings, database, Redis), reached one way: the app.

create_app builds them (Resources) and keeps them in `app.extensions`; web requests, CLI commands
and jobs (the worker runs them inside the app context it pushed once) all ask `get()`.
"""
from __future__ import annotations

from functools import cached_property

from flask import current_app
from redis import Redis
from redis.driver_info import DriverInfo

from chatcenter.config import Settings
from chatcenter.db import Database

EXTENSION = "chatcenter"
# Short socket timeouts: a Redis that is down or slow must not hang a request.
REDIS_CONNECT_TIMEOUT = 2.0
REDIS_SOCKET_TIMEOUT = 5.0
# What every connection tells Redis it is (CLIENT SETINFO), worked out once. Left to
# redis-py, each new connection reads the package metadata from disk again: about 2 ms
# in every forked work-horse, whose pool starts empty.
REDIS_DRIVER_INFO = DriverInfo()


def redis_client(url: str, timeout: float = REDIS_SOCKET_TIMEOUT) -> Redis:
    """The one way this project opens Redis: bounded waits, dead connections noticed."""
    return Redis.from_url(
        url,
        socket_connect_timeout=min(REDIS_CONNECT_TIMEOUT, timeout),
        socket_timeout=timeout,
        health_check_interval=30,
        driver_info=REDIS_DRIVER_INFO,
    )


class Resources:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def redis(self) -> Redis:
        return redis_client(self.settings.redis_url)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


def get() -> Resources:
    """The current app's Resources (inside a request, a CLI command or a job)."""
    return current_app.extensions[EXTENSION]
