"""Settings: read once from the environment (and `.env`), validated at start.

A bad value raises ConfigError with one line naming the variable and the rule, so the
process stops before it serves a request. The DSN and API keys never appear in messages
or in repr().
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping
import re
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"
# Every Redis key and queue of this project starts with this, so a Redis shared with
# another application (or another RQ project) never mixes their data with ours.
REDIS_PREFIX = "chatcenter:"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    debug: bool = False
    sentry_dsn: str = field(default="", repr=False)
    sentry_environment: str = "production"
    sentry_traces_sample_rate: float = 0.1
    sentry_release: str = ""
    redis_url: str = "redis://localhost:6379/0"
    database_url: str = "sqlite:///instance/chatcenter.db"
    wb_api_base_url: str = "https://buyer-chat-api.wildberries.ru"
    deepseek_api_base_url: str = "https://api.deepseek.com"
    deepseek_api_key: str = field(default="", repr=False)
    deepseek_model: str = "deepseek-v4-flash"
    # Seconds between two polls of one seller's WB event feed.
    sync_interval_seconds: int = 10
    # Largest request body: a reply's files (5 of at most 5 MB, 30 MB in all) and its form.
    max_content_length: int = 32 * 1024 * 1024
    proxy_count: int = 0
    # Signs the inbox's session cookies. Empty: a key generated once into
    # instance/secret_key (one machine); set it, the same everywhere, when several serve.
    secret_key: str = field(default="", repr=False)
    # An inbox session ends this long after sign-in however much it is used, and after
    # this long without a request from its browser (an open inbox page asks every 15 s).
    session_lifetime_hours: int = 12
    session_idle_minutes: int = 60
    # Seconds before each retry of a job that failed for a transient reason.
    job_retry_delays: tuple[int, ...] = (15, 60, 180)
    # Empty: /metrics answers anyone nginx lets through; set: only `Bearer <token>`.
    metrics_token: str = field(default="", repr=False)
    # Minutes within which a buyer should get a first answer, by the chat's urgency.
    response_target_high_minutes: int = 60
    response_target_medium_minutes: int = 240
    response_target_low_minutes: int = 1440
    # `flask attachments prune` removes the files of chats without activity for this many
    # days; None (empty): files are kept.
    attachments_keep_days: int | None = None

    # One-line notices for the process log at start (deprecated variables and the like).
    notices: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def sentry_enabled(self) -> bool:
        return bool(self.sentry_dsn)

    @property
    def response_targets(self) -> dict[str, int]:
        return {"high": self.response_target_high_minutes, "medium": self.response_target_medium_minutes,
                "low": self.response_target_low_minutes}

    @property
    def analysis_enabled(self) -> bool:
        """Without a DeepSeek key, analysis is off: nothing is enqueued, nothing fails."""
        return bool(self.deepseek_api_key)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        env_file: Path | str | None = DEFAULT_ENV_FILE,
    ) -> "Settings":
        """Build settings from `.env` overlaid by the real environment (which wins)."""
        return cls.from_mapping(read_env(environ, env_file))

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> "Settings":
        parsed: dict = {}
        notices: list[str] = []
        for f in fields(cls):
            raw = values.get(f.name.upper())
            if raw is None or f.name == "notices":
                continue
            parsed[f.name] = _PARSERS.get(f.name, _non_empty)(f.name.upper(), clean(f.name.upper(), raw))
        minutes = values.get("SYNC_INTERVAL_MINUTES")
        if minutes is not None:
            if "sync_interval_seconds" in parsed:
                notices.append("SYNC_INTERVAL_MINUTES is ignored: SYNC_INTERVAL_SECONDS is set")
            else:
                minutes = clean("SYNC_INTERVAL_MINUTES", minutes)
                parsed["sync_interval_seconds"] = 60 * int_between(1, 60)("SYNC_INTERVAL_MINUTES", minutes)
                notices.append("SYNC_INTERVAL_MINUTES is deprecated: set SYNC_INTERVAL_SECONDS="
                               f"{parsed['sync_interval_seconds']} instead")
        return cls(**parsed, notices=tuple(notices))


def read_env(environ: Mapping[str, str] | None = None,
             env_file: Path | str | None = DEFAULT_ENV_FILE) -> dict[str, str]:
    """`.env` overlaid by the real environment (which wins); shared with gunicorn.conf.py."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def clean(name: str, raw: str) -> str:
    """The value without surrounding blanks; a control character inside is an error.

    A newline in a key would end up in an HTTP header (and in escaped forms no masking
    recognises); no variable of ours has a use for one. The value is never echoed.
    """
    value = raw.strip()
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ConfigError(f"{name} must not contain control characters such as a newline or a tab (value not shown)")
    return value


def public_url(url: str) -> str:
    """`url` with its password (if any) replaced by ***, safe to print and log."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    except ValueError:  # a bad port: mask whatever stands between the scheme and the host
        return re.sub(r"//[^@/]*@", "//***@", url)
    return urlunsplit(parts._replace(netloc=netloc))


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of true/false/1/0/yes/no, got {raw!r}")


def _parse_rate(name: str, raw: str) -> float:
    try:
        rate = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not 0.0 <= rate <= 1.0:  # also rejects nan
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}")
    return rate


def int_between(low: int, high: int):
    def parse(name: str, raw: str) -> int:
        try:
            number = int(raw) if len(raw) <= 20 else low - 1  # int() of a huge string is slow
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
        return number

    return parse


def _parse_dsn(name: str, raw: str) -> str:
    """Accept empty (Sentry off) or https://<key>@<host>/<project>; never echo the value."""
    if not raw:
        return ""
    rule = f"{name} must look like https://<public_key>@<host>/<project_id> (value not shown)"
    try:
        parts = urlsplit(raw)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ConfigError(rule) from None
    project_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
        raise ConfigError(rule)
    if not port_ok or not project_id.isdigit():
        raise ConfigError(rule)
    return raw


def _parse_url(schemes: tuple[str, ...]):
    def parse(name: str, raw: str) -> str:
        try:
            scheme = urlsplit(raw).scheme
        except ValueError:
            scheme = ""
        if scheme not in schemes:
            raise ConfigError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return raw.rstrip("/")

    return parse


RETRY_DELAY_MAX = 86400  # a day: RQ schedules a retry by adding it to the clock


def _redis_url(name: str, raw: str) -> str:
    """What redis-py can connect to: redis[s]://host[:port][/db] or unix:///path."""
    rule = (f"{name} must be redis://[:password@]host[:port][/db], rediss://... or unix:///path/to/redis.sock, "
            f"got {public_url(raw)!r}")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:  # a port that is not a number from 0 to 65535
        raise ConfigError(rule) from None
    if parts.scheme in ("redis", "rediss"):
        db = parts.path.strip("/")
        if not parts.hostname or port == 0 or not (db == "" or (db.isdigit() and int(db) < 10000)):
            raise ConfigError(rule)
    elif parts.scheme != "unix" or not parts.path:
        raise ConfigError(rule)
    return raw


def _delays(name: str, raw: str) -> tuple[int, ...]:
    parse = int_between(0, RETRY_DELAY_MAX)
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    try:
        delays = tuple(parse(name, part) for part in parts)
    except ConfigError:
        delays = (-1,)
    if any(d < 0 for d in delays) or len(delays) > 10:
        raise ConfigError(f"{name} must be up to 10 comma-separated whole seconds from 0 to {RETRY_DELAY_MAX}, "
                          f"e.g. 15,60,180; got {raw!r}")
    return delays


def _database_url(name: str, raw: str) -> str:
    """An SQLAlchemy URL whose driver is installed: checked here, not at the first query."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    example = "sqlite:///instance/chatcenter.db or postgresql+psycopg://user:password@host/db"
    try:
        url = make_url(raw)
        dialect = url.get_dialect()
    except NoSuchModuleError:  # before its base class, ArgumentError
        raise ConfigError(f"{name}: no database dialect {url.drivername!r}; use {example}") from None
    except (ArgumentError, ValueError):
        raise ConfigError(f"{name} must be an SQLAlchemy URL such as {example}, got {public_url(raw)!r}") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(f"{name}: the driver of {url.drivername!r} ({exc.name}) is not installed; "
                          f"use {example}") from None
    return raw


SECRET_KEY_MIN = 32


def _secret_key(name: str, raw: str) -> str:
    """Empty (generated per machine) or long enough to resist guessing; never echoed."""
    if raw and len(raw) < SECRET_KEY_MIN:
        raise ConfigError(f"{name} must be empty or at least {SECRET_KEY_MIN} characters "
                          f"(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                          f"got {len(raw)} (value not shown)")
    return raw


# Keys DeepSeek issues are letters and digits (sk-...). Allowing only a token's characters
# means every escaped form of the key (repr, JSON, a header) is the key itself, which the
# privacy filter masks; a stray quote or newline could not slip past it.
_API_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")


def _api_key(name: str, raw: str) -> str:
    if raw and not _API_KEY.fullmatch(raw):
        raise ConfigError(f"{name} must be the key as issued: letters, digits and ._~+/=- only, "
                          "no spaces or quotes (value not shown)")
    return raw


METRICS_TOKEN_MIN = 16


def _metrics_token(name: str, raw: str) -> str:
    """Empty, or a bearer token long enough not to be guessed; never echoed."""
    if raw and (len(raw) < METRICS_TOKEN_MIN or not _API_KEY.fullmatch(raw)):
        raise ConfigError(f"{name} must be empty or at least {METRICS_TOKEN_MIN} characters of "
                          "letters, digits and ._~+/=- (value not shown)")
    return raw


def _text(max_length: int, empty_ok: bool = False):
    def parse(name: str, raw: str) -> str:
        if not raw and not empty_ok:
            raise ConfigError(f"{name} must not be empty")
        if len(raw) > max_length:
            raise ConfigError(f"{name} must be at most {max_length} characters, got {len(raw)}")
        return raw

    return parse


def _optional(parse):
    """Empty means "not set" (None); anything else must pass `parse`."""
    def parse_optional(name: str, raw: str):
        return None if not raw.strip() else parse(name, raw.strip())

    return parse_optional


def _non_empty(name: str, raw: str) -> str:
    if not raw:
        raise ConfigError(f"{name} must not be empty")
    return raw


_PARSERS = {
    "debug": _parse_bool,
    "sentry_dsn": _parse_dsn,
    "sentry_traces_sample_rate": _parse_rate,
    "sentry_environment": _text(64),  # Sentry's own limit
    "sentry_release": _text(200, empty_ok=True),
    "redis_url": _redis_url,
    "database_url": _database_url,
    "wb_api_base_url": _parse_url(("http", "https")),
    "deepseek_api_base_url": _parse_url(("http", "https")),
    "deepseek_api_key": _api_key,
    "deepseek_model": _text(100),
    "sync_interval_seconds": int_between(1, 3600),
    "max_content_length": int_between(1, 1 << 30),
    "proxy_count": int_between(0, 10),
    "secret_key": _secret_key,
    "session_lifetime_hours": int_between(1, 720),
    "session_idle_minutes": int_between(1, 10080),
    "job_retry_delays": _delays,
    "metrics_token": _metrics_token,
    "response_target_high_minutes": int_between(1, 10080),
    "response_target_medium_minutes": int_between(1, 10080),
    "response_target_low_minutes": int_between(1, 10080),
    "attachments_keep_days": _optional(int_between(1, 36500)),
}


def load_settings_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """For process entry points: a bad value ends the process with its one-line message.

    gunicorn's variables are checked too, in every process: they share the `.env`.
    """
    from chatcenter.server_settings import ServerSettings

    try:
        values = read_env(environ)
        settings = Settings.from_mapping(values)
        ServerSettings.from_mapping(values)
    except ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from None
    return settings
