"""Settings: defaults, .env vs environment, and one clear line for every bad value."""
import os
import subprocess
import sys

import pytest

from chatcenter.config import PROJECT_ROOT, ConfigError, Settings, load_settings_or_exit

SECRET_KEY = "f00dfacef00dfacef00dfacef00dface"
REDIS_RULE = "REDIS_URL must be redis://[:password@]host[:port][/db], rediss://... or unix:///path/to/redis.sock"
DB_EXAMPLE = "sqlite:///instance/chatcenter.db or postgresql+psycopg://user:password@host/db"


def test_defaults_match_the_design():
    s = Settings.from_env({}, env_file=None)
    assert s.debug is False
    assert s.sentry_dsn == "" and not s.sentry_enabled
    assert s.sentry_environment == "production"
    assert s.sentry_traces_sample_rate == 0.1
    assert s.redis_url == "redis://localhost:6379/0"
    assert s.database_url == "sqlite:///instance/chatcenter.db"
    assert s.deepseek_model == "deepseek-v4-flash"
    assert (s.session_lifetime_hours, s.session_idle_minutes) == (12, 60)
    assert s.attachments_keep_days is None and s.max_content_length == 32 * 1024 * 1024
    assert Settings.from_env({"ATTACHMENTS_KEEP_DAYS": " 180 "}, env_file=None).attachments_keep_days == 180


@pytest.mark.parametrize("raw, expected", [("true", True), ("1", True), ("yes", True), ("FALSE", False), ("0", False), ("no", False)])
def test_debug_accepts_the_usual_spellings(raw, expected):
    assert Settings.from_env({"DEBUG": raw}, env_file=None).debug is expected


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("DEBUG", "maybe", "DEBUG must be one of true/false/1/0/yes/no, got 'maybe'"),
        ("SENTRY_TRACES_SAMPLE_RATE", "1.5", "SENTRY_TRACES_SAMPLE_RATE must be a number between 0 and 1, got '1.5'"),
        ("SENTRY_TRACES_SAMPLE_RATE", "abc", "SENTRY_TRACES_SAMPLE_RATE must be a number between 0 and 1, got 'abc'"),
        ("SENTRY_TRACES_SAMPLE_RATE", "-0.1", "SENTRY_TRACES_SAMPLE_RATE must be a number between 0 and 1, got '-0.1'"),
        ("SENTRY_TRACES_SAMPLE_RATE", "nan", "SENTRY_TRACES_SAMPLE_RATE must be a number between 0 and 1, got 'nan'"),
        ("SENTRY_ENVIRONMENT", "", "SENTRY_ENVIRONMENT must not be empty"),
        ("REDIS_URL", "localhost:6379", f"{REDIS_RULE}, got 'localhost:6379'"),
        ("REDIS_URL", "redis://localhost:notaport/0", f"{REDIS_RULE}, got 'redis://localhost:notaport/0'"),
        ("REDIS_URL", "redis://", f"{REDIS_RULE}, got 'redis://'"),
        ("REDIS_URL", "unix://", f"{REDIS_RULE}, got 'unix://'"),
        ("REDIS_URL", "redis://:pw@localhost:99999/0", f"{REDIS_RULE}, got 'redis://***@localhost:99999/0'"),
        ("REDIS_URL", "redis://localhost:6379/x", f"{REDIS_RULE}, got 'redis://localhost:6379/x'"),
        ("DATABASE_URL", "foo://bar", f"DATABASE_URL: no database dialect 'foo'; use {DB_EXAMPLE}"),
        ("DATABASE_URL", "mysql://u@localhost/db",
         f"DATABASE_URL: the driver of 'mysql' (MySQLdb) is not installed; use {DB_EXAMPLE}"),
        ("DATABASE_URL", "chatcenter.db", f"DATABASE_URL must be an SQLAlchemy URL such as {DB_EXAMPLE}, got 'chatcenter.db'"),
        ("JOB_RETRY_DELAYS", "99999999999999999999", "JOB_RETRY_DELAYS must be up to 10 comma-separated whole "
         "seconds from 0 to 86400, e.g. 15,60,180; got '99999999999999999999'"),
        ("SYNC_INTERVAL_MINUTES", "10000000000", "SYNC_INTERVAL_MINUTES must be a whole number from 1 to 60, "
         "got '10000000000'"),
        ("MAX_CONTENT_LENGTH", "0", "MAX_CONTENT_LENGTH must be a whole number from 1 to 1073741824, got '0'"),
        ("PROXY_COUNT", "1000", "PROXY_COUNT must be a whole number from 0 to 10, got '1000'"),
        ("ATTACHMENTS_KEEP_DAYS", "0", "ATTACHMENTS_KEEP_DAYS must be a whole number from 1 to 36500, got '0'"),
        ("ATTACHMENTS_KEEP_DAYS", "a year", "ATTACHMENTS_KEEP_DAYS must be a whole number from 1 to 36500, "
         "got 'a year'"),
        ("SENTRY_ENVIRONMENT", "x" * 65, "SENTRY_ENVIRONMENT must be at most 64 characters, got 65"),
        ("SYNC_INTERVAL_MINUTES", "0", "SYNC_INTERVAL_MINUTES must be a whole number from 1 to 60, got '0'"),
        ("SYNC_INTERVAL_SECONDS", "0", "SYNC_INTERVAL_SECONDS must be a whole number from 1 to 3600, got '0'"),
        ("SYNC_INTERVAL_SECONDS", "1e9", "SYNC_INTERVAL_SECONDS must be a whole number from 1 to 3600, got '1e9'"),
        ("SESSION_LIFETIME_HOURS", "0", "SESSION_LIFETIME_HOURS must be a whole number from 1 to 720, got '0'"),
        ("SESSION_LIFETIME_HOURS", "12h", "SESSION_LIFETIME_HOURS must be a whole number from 1 to 720, got '12h'"),
        ("SESSION_IDLE_MINUTES", "10081", "SESSION_IDLE_MINUTES must be a whole number from 1 to 10080, got '10081'"),
    ],
)
def test_bad_values_name_the_variable_and_the_rule(name, value, message):
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({name: value}, env_file=None)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "dsn",
    [
        f"not-a-dsn-{SECRET_KEY}",
        f"ftp://{SECRET_KEY}@sentry.example.com/1",
        f"https://sentry.example.com/1?{SECRET_KEY}",
        f"https://{SECRET_KEY}@sentry.example.com/not-a-project",
        f"https://{SECRET_KEY}@/1",
    ],
)
def test_malformed_dsn_is_rejected_without_echoing_the_key(dsn):
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({"SENTRY_DSN": dsn}, env_file=None)
    assert "SENTRY_DSN" in str(excinfo.value)
    assert SECRET_KEY not in str(excinfo.value)


def test_valid_dsn_and_rate_are_kept():
    dsn = f"https://{SECRET_KEY}@o0.ingest.sentry.io/42"
    s = Settings.from_env({"SENTRY_DSN": dsn, "SENTRY_TRACES_SAMPLE_RATE": "0.5"}, env_file=None)
    assert s.sentry_enabled and s.sentry_dsn == dsn and s.sentry_traces_sample_rate == 0.5
    assert SECRET_KEY not in repr(s)


def test_sync_interval_is_in_seconds_and_the_minutes_variable_still_works_with_a_notice():
    assert Settings.from_env({}, env_file=None).sync_interval_seconds == 10
    old = Settings.from_env({"SYNC_INTERVAL_MINUTES": "2"}, env_file=None)
    assert old.sync_interval_seconds == 120
    assert old.notices == ("SYNC_INTERVAL_MINUTES is deprecated: set SYNC_INTERVAL_SECONDS=120 instead",)
    both = Settings.from_env({"SYNC_INTERVAL_MINUTES": "2", "SYNC_INTERVAL_SECONDS": "5"}, env_file=None)
    assert both.sync_interval_seconds == 5
    assert both.notices == ("SYNC_INTERVAL_MINUTES is ignored: SYNC_INTERVAL_SECONDS is set",)


def test_env_file_is_read_and_the_real_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text('SENTRY_ENVIRONMENT="staging"\nDEBUG=true\nDEEPSEEK_MODEL=from-file\n')
    s = Settings.from_env({"DEEPSEEK_MODEL": "from-env"}, env_file=env_file)
    assert s.sentry_environment == "staging"
    assert s.debug is True
    assert s.deepseek_model == "from-env"


def _run_entry_point(code: str, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DEBUG"))}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_a_bad_value_stops_the_web_process_with_one_line():
    result = _run_entry_point("import wsgi", SENTRY_TRACES_SAMPLE_RATE="1.5")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "configuration error: SENTRY_TRACES_SAMPLE_RATE must be a number between 0 and 1, got '1.5'"
    ]


def test_a_malformed_dsn_stops_the_process_without_printing_the_key():
    result = _run_entry_point("import wsgi", SENTRY_DSN=f"https://{SECRET_KEY}@sentry.example.com/x")
    assert result.returncode != 0
    assert "SENTRY_DSN" in result.stderr
    assert SECRET_KEY not in result.stderr + result.stdout


@pytest.mark.parametrize("key", [f"sk-{SECRET_KEY}\nX-Injected: 1", f"sk-{SECRET_KEY}\t", f"sk {SECRET_KEY}",
                                 f'sk-"{SECRET_KEY}"', f"sk-{SECRET_KEY}\\n"])
def test_a_deepseek_key_with_a_control_character_or_a_quote_is_refused_unechoed(key):
    # Inside the value: strip() would take a trailing newline away, as dotenv does.
    with pytest.raises(ConfigError) as excinfo:
        Settings.from_env({"DEEPSEEK_API_KEY": key + "x"}, env_file=None)
    assert str(excinfo.value).startswith("DEEPSEEK_API_KEY must ")
    assert "value not shown" in str(excinfo.value)
    assert SECRET_KEY not in str(excinfo.value)


def test_a_control_character_is_refused_in_any_variable():
    with pytest.raises(ConfigError, match="SENTRY_RELEASE must not contain control characters"):
        Settings.from_env({"SENTRY_RELEASE": "chatcenter@1\nforged"}, env_file=None)


@pytest.mark.parametrize("name, value, message", [
    ("WEB_CONCURRENCY", "abc", "WEB_CONCURRENCY must be a whole number from 1 to 64, got 'abc'"),
    ("WEB_CONCURRENCY", "100000", "WEB_CONCURRENCY must be a whole number from 1 to 64, got '100000'"),
    ("PORT", "99999", "PORT must be a whole number from 1 to 65535, got '99999'"),
    ("GUNICORN_LOGLEVEL", "garbage", "GUNICORN_LOGLEVEL must be one of debug, info, warning, error, critical, "
                                     "got 'garbage'"),
    ("GUNICORN_BIND", "0.0.0.0:99999", "GUNICORN_BIND must be comma-separated HOST:PORT (port 1 to 65535) or "
                                       "unix:/path addresses, got '0.0.0.0:99999'"),
])
def test_gunicorn_variables_are_checked_with_the_rest(name, value, message):
    with pytest.raises(SystemExit) as excinfo:
        load_settings_or_exit({name: value})
    assert str(excinfo.value) == f"configuration error: {message}"


@pytest.mark.parametrize("process", [["web.py"], ["worker.py", "--burst"], ["-m", "chatcenter.poller"],
                                     ["-m", "flask", "--app", "chatcenter", "sellers", "list"]])
@pytest.mark.parametrize("variable", ["WEB_CONCURRENCY=abc", "JOB_RETRY_DELAYS=99999999999999999999",
                                      "DATABASE_URL=foo://bar", "REDIS_URL=redis://localhost:notaport/0"])
def test_every_process_checks_every_variable_at_start(tmp_path, process, variable):
    name, value = variable.split("=", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DEBUG"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", REDIS_URL="redis://127.0.0.1:6379/15")
    env[name] = value
    result = subprocess.run([sys.executable, *process], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"configuration error: {name}")


@pytest.mark.parametrize("url, shown", [
    ("redis://:s3cret@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
    ("postgresql+psycopg://cc:s3cret@db.example.com/cc", "postgresql+psycopg://cc:***@db.example.com/cc"),
    ("redis://u:s3cret@[::1]:6379/0", "redis://u:***@[::1]:6379/0"),
    ("redis://u:s3cret@host:notaport/0", "redis://***@host:notaport/0"),
    ("sqlite:///instance/chatcenter.db", "sqlite:///instance/chatcenter.db"),
    ("unix:///run/redis.sock", "unix:///run/redis.sock"),
])
def test_urls_are_shown_without_their_password(url, shown):
    from chatcenter.config import public_url

    assert public_url(url) == shown
