"""Production setup: gunicorn.conf.py, ProxyFix, and a real nginx in front of a real gunicorn."""
import os
import pwd
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import urllib3
from dotenv import dotenv_values
from flask import request
from sqlalchemy import create_engine

from chatcenter.config import PROJECT_ROOT, Settings
from chatcenter.models import Base
from tests.conftest import TEST_REDIS_URL
from tests.sentry_receiver import PUBLIC_KEY

CONF = PROJECT_ROOT / "gunicorn.conf.py"
NGINX_SITE = PROJECT_ROOT / "deploy" / "nginx" / "chatcenter.conf"
GUNICORN_VARS = ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_GRACEFUL_TIMEOUT",
                 "GUNICORN_KEEPALIVE", "GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER",
                 "GUNICORN_BIND", "PORT", "GUNICORN_ACCESSLOG", "GUNICORN_CONTROL_SOCKET", "GUNICORN_LOGLEVEL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(tmp_path, **changes) -> dict:
    """A clean environment for a child process: no Sentry, gunicorn or proxy settings leak in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SENTRY_", "DEEPSEEK_", "WB_")) and k not in GUNICORN_VARS + ("PROXY_COUNT",)}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'web.db'}", REDIS_URL=TEST_REDIS_URL,
               SENTRY_DSN="", DEBUG="false")
    env.update({k: str(v) for k, v in changes.items()})
    return env


def gunicorn(*args, env, **kwargs):
    return subprocess.run([sys.executable, "-m", "gunicorn", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, **kwargs)


# ------------------------------------------------------------------------ gunicorn.conf.py


def test_gunicorn_config_loads_with_the_app(tmp_path):
    result = gunicorn("--check-config", "-c", "gunicorn.conf.py", "wsgi:app", env=process_env(tmp_path))
    assert result.returncode == 0, result.stderr


def _printed_config(output: str) -> dict:
    pairs = (re.match(r"^(\w+)\s+= (.*)$", line) for line in output.splitlines())
    return {m.group(1): m.group(2) for m in pairs if m}


def test_gunicorn_takes_its_values_from_the_environment(tmp_path):
    env = process_env(tmp_path, WEB_CONCURRENCY=3, GUNICORN_THREADS=6, GUNICORN_TIMEOUT=45,
                      GUNICORN_GRACEFUL_TIMEOUT=20, GUNICORN_MAX_REQUESTS=500, GUNICORN_MAX_REQUESTS_JITTER=50,
                      PORT=9123)
    result = gunicorn("--print-config", "-c", "gunicorn.conf.py", "wsgi:app", env=env)
    assert result.returncode == 0, result.stderr
    config = _printed_config(result.stdout)
    assert config["bind"] == "['127.0.0.1:9123']"  # PORT moves the port, not the address
    assert (config["workers"], config["threads"]) == ("3", "6")
    assert config["worker_class"] == "gthread"  # slow clients are nginx's to buffer
    assert (config["timeout"], config["graceful_timeout"]) == ("45", "20")
    assert (config["max_requests"], config["max_requests_jitter"]) == ("500", "50")
    assert config["forwarded_allow_ips"] == "[]"  # only ProxyFix trusts proxy headers
    assert config["control_socket_disable"] == "True"
    assert config["preload_app"] == "False"
    assert "request_id=%({x-request-id}o)s" in config["access_log_format"]
    assert "%(q)s" not in config["access_log_format"] and "%(r)s" not in config["access_log_format"]


@pytest.fixture
def load_conf(monkeypatch):
    """Evaluate gunicorn.conf.py in this process with only the given variables set."""
    local = dotenv_values(PROJECT_ROOT / ".env") if (PROJECT_ROOT / ".env").is_file() else {}
    if any(name in local for name in GUNICORN_VARS):
        pytest.skip("the project's .env sets gunicorn variables; defaults cannot be checked here")

    def load(**env):
        for name in GUNICORN_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        return runpy.run_path(str(CONF))

    return load


def test_defaults_are_loopback_and_bounded(load_conf):
    conf = load_conf()
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert 1 <= conf["workers"] <= 8 and conf["threads"] == 4
    assert (conf["timeout"], conf["graceful_timeout"]) == (30, 30)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (50_000, 5_000)
    assert conf["graceful_timeout"] > conf["SENTRY_FLUSH_SECONDS"]


def test_port_keeps_loopback_and_gunicorn_bind_overrides(load_conf):
    assert load_conf(PORT=5000)["bind"] == ["127.0.0.1:5000"]
    assert load_conf(PORT=5000, GUNICORN_BIND="0.0.0.0:8080, unix:/run/cc.sock")["bind"] == [
        "0.0.0.0:8080", "unix:/run/cc.sock"]


@pytest.mark.parametrize("name, value, rule", [
    ("GUNICORN_TIMEOUT", "abc", "a whole number from 1 to 3600"),
    ("GUNICORN_THREADS", "0", "a whole number from 1 to 64"),
    ("PORT", "-1", "a whole number from 1 to 65535"),
    ("GUNICORN_MAX_REQUESTS", "-5", "a whole number from 0 to 10000000"),
])
def test_a_bad_value_stops_gunicorn_with_one_line(load_conf, name, value, rule):
    with pytest.raises(SystemExit) as exc:
        load_conf(**{name: value})
    assert str(exc.value) == f"configuration error: {name} must be {rule}, got {value!r}"


@pytest.mark.parametrize("variable", ["SENTRY_DSN=garbage", "SENTRY_TRACES_SAMPLE_RATE=1.5", "WEB_CONCURRENCY=100000",
                                      "PORT=99999", "GUNICORN_LOGLEVEL=garbage", "REDIS_URL=redis://"])
def test_real_gunicorn_with_a_bad_variable_exits_at_once_with_one_line(tmp_path, variable):
    """What systemd runs: the master must stop, not restart workers forever."""
    name, value = variable.split("=", 1)
    result = gunicorn("-c", "gunicorn.conf.py", "wsgi:app", env=process_env(tmp_path, **{name: value}))
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"configuration error: {name} ")


def test_web_py_checks_web_concurrency_before_gunicorn_reads_it(tmp_path):
    # gunicorn itself does int(WEB_CONCURRENCY) on import: a traceback without web.py.
    result = subprocess.run([sys.executable, "web.py"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=60, env=process_env(tmp_path, WEB_CONCURRENCY="abc"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: WEB_CONCURRENCY must be a whole number from 1 to 64, got 'abc'"]


def test_web_py_serves_like_gunicorn(tmp_path):
    port = free_port()
    web = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "web.py")], cwd=tmp_path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=process_env(tmp_path, PORT=port, WEB_CONCURRENCY=1))
    try:
        wait_for_port(port, web, "python web.py", timeout=30)
        assert requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json() == {"status": "ok"}
    finally:
        stop(web)


@pytest.mark.parametrize("loads", [
    # What worker.py loads before it forks: the app and every job's module.
    "import worker\nfrom chatcenter import create_app\napp = create_app(component='worker')\n"
    "with app.app_context():\n    worker.preload_jobs()\n",
    # gunicorn's worker_exit hook, which flushes Sentry when it is on.
    f"import runpy\nconf = runpy.run_path({str(CONF)!r})\nconf['worker_exit'](None, None)\n",
], ids=["rq-worker-with-its-jobs", "gunicorn-worker-exit"])
def test_sentry_sdk_stays_unimported_when_sentry_is_off(tmp_path, loads):
    code = "import sys\n" + loads + "print('sentry_sdk' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=process_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _exit_after_worker_exit(tmp_path, dsn: str) -> tuple[subprocess.CompletedProcess, float]:
    # os._exit skips sentry-sdk's own atexit flush: only worker_exit can deliver the event.
    code = ("import os, runpy, time, sentry_sdk\n"
            f"sentry_sdk.init(dsn={dsn!r})\n"
            "sentry_sdk.capture_message('queued when the worker exits')\n"
            f"conf = runpy.run_path({str(CONF)!r})\n"
            "start = time.monotonic()\n"
            "conf['worker_exit'](None, None)\n"
            "print(round(time.monotonic() - start, 2), flush=True)\n"
            "os._exit(0)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=process_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result, float(result.stdout.strip())


def test_worker_exit_flushes_sentry(tmp_path, sentry_receiver):
    sentry_receiver.clear()
    _exit_after_worker_exit(tmp_path, sentry_receiver.dsn)
    events = sentry_receiver.wait_for("event", 1, timeout=5)
    assert [e["message"] for e in events] == ["queued when the worker exits"]


def test_worker_exit_is_bounded_when_sentry_hangs(tmp_path):
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        dsn = f"http://{PUBLIC_KEY}@127.0.0.1:{silent.getsockname()[1]}/1"
        _, seconds = _exit_after_worker_exit(tmp_path, dsn)
    assert seconds < 10  # bounded by SENTRY_FLUSH_SECONDS (2 s), not hanging with the host


# ------------------------------------------------------------------------------- ProxyFix


@pytest.fixture
def seen_app(make_app):
    def build(proxy_count: int):
        app = make_app(proxy_count=proxy_count)

        @app.get("/_test/seen")
        def seen():
            return {"remote_addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

        return app

    return build


FORWARDED = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "chat.example.com"}


def test_one_proxy_is_trusted_with_proxy_count_1(seen_app):
    client = seen_app(1).test_client()
    seen = client.get("/_test/seen", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    # The last X-Forwarded-For entry is the one our proxy added; the earlier one is the client's.
    assert seen == {"remote_addr": "203.0.113.7", "scheme": "https", "host": "chat.example.com"}


def test_forwarded_headers_are_ignored_with_proxy_count_0(seen_app):
    client = seen_app(0).test_client()
    seen = client.get("/_test/seen", headers=FORWARDED, environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert seen == {"remote_addr": "127.0.0.1", "scheme": "http", "host": "localhost"}


def test_proxy_count_comes_from_the_environment():
    assert Settings.from_env({}, env_file=None).proxy_count == 0
    assert Settings.from_env({"PROXY_COUNT": "1"}, env_file=None).proxy_count == 1


# -------------------------------------------------------------- nginx in front of gunicorn


def _nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port} within {timeout} s")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def nginx_config(tmp: Path, nginx_port: int, gunicorn_port: int, tls_port: int | None = None) -> Path:
    """The sample site from deploy/, moved onto loopback ports and into tmp; with `tls_port`
    also on https with a self-signed certificate, as certbot's edit would add it."""
    site = NGINX_SITE.read_text()
    listen = f"listen 127.0.0.1:{nginx_port};"
    if tls_port is not None:
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=30)
        listen += f"\n    listen 127.0.0.1:{tls_port} ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};"
    for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{gunicorn_port};"),
                     ("listen 80;", listen),
                     ("listen [::]:80;", ""),
                     ("/var/log/nginx/", f"{tmp}/")):
        assert old in site, old
        site = site.replace(old, new)
    (tmp / "chatcenter.conf").write_text(site)
    temp_paths = "\n".join(f"    {kind}_temp_path {tmp}/{kind};"
                           for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx would switch its workers to "nobody", who cannot enter pytest's tmp.
    user = f"user {pwd.getpwuid(0).pw_name};\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n{temp_paths}\n    access_log {tmp}/access.log;\n    include {tmp}/chatcenter.conf;\n}}\n")
    return conf


@pytest.fixture
def nginx_and_gunicorn(request, tmp_path, redis_url, sentry_receiver):
    nginx = _nginx_binary()
    if nginx is None:
        if os.environ.get("CI"):  # CI must run it: .ci/run installs nginx
            pytest.fail("nginx is not installed although .ci/run should have installed it")
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run does it in CI)")
    sentry_receiver.clear()
    g_port, n_port, tls_port = free_port(), free_port(), free_port()
    env = process_env(tmp_path, GUNICORN_BIND=f"127.0.0.1:{g_port}", WEB_CONCURRENCY=1, GUNICORN_THREADS=2,
                      PROXY_COUNT=1, SENTRY_DSN=sentry_receiver.dsn, SENTRY_ENVIRONMENT="production",
                      SENTRY_TRACES_SAMPLE_RATE=getattr(request, "param", 0), DEBUG="true")
    access, errors = tmp_path / "gunicorn.out", tmp_path / "gunicorn.err"
    with access.open("w") as out, errors.open("w") as err:
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=PROJECT_ROOT, env=env, stdout=out, stderr=err)
    conf = nginx_config(tmp_path, n_port, g_port, tls_port if shutil.which("openssl") else None)
    front = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(g_port, web, "gunicorn")
        wait_for_port(n_port, front, "nginx")
        yield {"url": f"http://127.0.0.1:{n_port}", "https_url": f"https://127.0.0.1:{tls_port}",
               "certificate": str(tmp_path / "cert.pem"),
               "access": access, "errors": errors, "tmp": tmp_path}
    finally:
        stop(front, signal.SIGQUIT)  # nginx: graceful stop
        stop(web)


def access_lines(path: Path, count: int, timeout: float = 5.0) -> list[str]:
    """gunicorn writes the access line just after the answer: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in path.read_text().splitlines() if line.startswith("request_id=")]
        if len(lines) >= count or time.monotonic() >= deadline:
            return lines
        time.sleep(0.05)


def wait_for_text(path: Path, needle: str, timeout: float = 5.0) -> str:
    """nginx, too, logs a request just after answering it."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        if needle in text or time.monotonic() >= deadline:
            return text
        time.sleep(0.05)


def test_health_through_nginx_with_request_ids_in_gunicorns_access_log(nginx_and_gunicorn, sentry_receiver):
    url = nginx_and_gunicorn["url"]
    live = requests.get(f"{url}/api/health?token=do-not-log-me", headers={"X-Request-ID": "ops-check-0001"},
                        timeout=10)
    assert live.status_code == 200 and live.json() == {"status": "ok"}, live.text
    assert live.headers["X-Request-ID"] == "ops-check-0001"  # passed through nginx both ways

    ready = requests.get(f"{url}/api/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["sentry"] == {"enabled": True, "environment": "production"}
    generated = ready.headers["X-Request-ID"]  # nginx's $request_id, as no client sent one
    assert re.fullmatch(r"[0-9a-f]{32}", generated)

    lines = access_lines(nginx_and_gunicorn["access"], 2)
    assert len(lines) == 2, nginx_and_gunicorn["access"].read_text()
    assert re.fullmatch(r"request_id=ops-check-0001 method=GET path=/api/health route=/api/health "
                        r"status=200 duration_ms=\d+", lines[0])
    assert re.fullmatch(rf"request_id={generated} method=GET path=/api/health/ready route=/api/health/ready "
                        r"status=200 duration_ms=\d+", lines[1])
    assert "do-not-log-me" not in nginx_and_gunicorn["access"].read_text()
    # nginx's own log carries the same id.
    nginx_log = wait_for_text(nginx_and_gunicorn["tmp"] / "chatcenter.access.log", f"request_id={generated}")
    assert f"request_id={generated}" in nginx_log, nginx_log

    # A client's odd id is replaced by nginx already, with the same rule as the app's.
    odd = requests.get(f"{url}/api/health", headers={"X-Request-ID": 'two words"'}, timeout=10)
    replaced = odd.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert f"request_id={replaced}" in wait_for_text(nginx_and_gunicorn["tmp"] / "chatcenter.access.log",
                                                     f"request_id={replaced}")
    assert access_lines(nginx_and_gunicorn["access"], 3)[-1].startswith(f"request_id={replaced} ")

    # The journal line operators grep for, once per gunicorn worker.
    errors = nginx_and_gunicorn["errors"].read_text()
    assert "Sentry initialized for environment: production" in errors, errors


def test_an_error_behind_nginx_reaches_sentry_with_the_request_id(nginx_and_gunicorn, sentry_receiver):
    response = requests.get(f"{nginx_and_gunicorn['url']}/api/health/sentry-test",
                            headers={"X-Request-ID": "incident-42-abc"}, timeout=10)
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "incident-42-abc"
    (event,) = sentry_receiver.wait_for("event", 1, timeout=10)
    assert event["tags"]["request_id"] == "incident-42-abc"
    assert event["tags"]["component"] == "web"
    # sentry-sdk reads the URL before ProxyFix runs: it shows the Host nginx passed on.
    assert event["request"]["url"].endswith("/api/health/sentry-test")
    lines = access_lines(nginx_and_gunicorn["access"], 1)
    assert lines and lines[-1].startswith("request_id=incident-42-abc method=GET path=/api/health/sentry-test ")
    assert " status=500 " in lines[-1]


def test_oversized_requests_get_json_from_nginx_never_gunicorns_html(nginx_and_gunicorn):
    url = nginx_and_gunicorn["url"]
    answers = {
        413: requests.post(f"{url}/api/health", data=b"x" * (2 * 1024 * 1024), timeout=10),
        414: requests.get(f"{url}/api/health?q={'a' * 6000}", timeout=10),
        400: requests.get(f"{url}/api/health", headers={"X-Big": "b" * 6000}, timeout=10),
    }
    for status, answer in answers.items():
        assert answer.status_code == status, answer.text
        assert answer.headers["Content-Type"] == "application/json", answer.text
        assert set(answer.json()) == {"detail"}


def test_a_reply_with_files_may_be_larger_than_other_bodies_through_nginx(nginx_and_gunicorn):
    url = nginx_and_gunicorn["url"]
    photo = ("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * (3 * 1024 * 1024), "image/png")
    # Past nginx (3 MB on the reply route): the app answers, here for want of a key.
    past = requests.post(f"{url}/api/chats/1/reply", data={"text": "hi"}, files={"file": photo}, timeout=10)
    assert past.status_code == 401 and past.headers["WWW-Authenticate"].startswith("Bearer")
    refused = requests.post(f"{url}/api/chats/1/analysis", data=b"x" * (3 * 1024 * 1024), timeout=10)
    assert refused.status_code == 413 and refused.json()["detail"].startswith("request body too large")


@pytest.mark.parametrize("nginx_and_gunicorn", [0.1], indirect=True)  # traces at 0.1
def test_a_client_cannot_force_traces_through_nginx(nginx_and_gunicorn, sentry_receiver):
    """Issue 28: `baggage: sentry-sample_rand=0.000001` had 50 of 50 requests traced. nginx
    drops a client's trace headers: its requests are sampled at the rate, in traces of ours."""
    url = nginx_and_gunicorn["url"]
    trace_id = "771a43a4192642f0b136d5159a501700"
    forcing = {"sentry-trace": f"{trace_id}-b7ad6b7169203331-1",
               "baggage": f"sentry-trace_id={trace_id},sentry-sample_rand=0.000001,sentry-sampled=true"}
    for _ in range(40):
        assert requests.get(f"{url}/api/chats", headers=forcing, timeout=10).status_code == 401
    assert requests.get(f"{url}/api/health/sentry-test", headers=forcing, timeout=10).status_code == 500

    (event,) = sentry_receiver.wait_for("event", 1, timeout=10)
    assert event["contexts"]["trace"]["trace_id"] != trace_id  # the app never saw the client's trace
    time.sleep(1)  # transactions go out right after their responses
    traced = sentry_receiver.transactions
    assert len(traced) <= 15, len(traced)  # 41 x 0.1 = 4; forced, it would be 41
    assert all(t["contexts"]["trace"]["trace_id"] != trace_id for t in traced)


def test_metrics_are_served_only_to_the_addresses_nginx_lists(nginx_and_gunicorn):
    engine = create_engine(f"sqlite:///{nginx_and_gunicorn['tmp'] / 'web.db'}")
    Base.metadata.create_all(engine)
    engine.dispose()
    url = f"{nginx_and_gunicorn['url']}/metrics"
    listed = requests.get(url, timeout=10)
    assert listed.status_code == 200, listed.text
    assert "chatcenter_queue_jobs" in listed.text
    # The same request from another address (127.0.0.2 is not in the sample's allow list).
    port = int(nginx_and_gunicorn["url"].rsplit(":", 1)[1])
    with urllib3.HTTPConnectionPool("127.0.0.1", port, source_address=("127.0.0.2", 0)) as pool:
        refused = pool.request("GET", "/metrics")
    assert refused.status == 403


def test_nginx_sends_hsts_over_https_only(nginx_and_gunicorn):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: no certificate for the https listener")
    trusted = nginx_and_gunicorn["certificate"]  # the test's self-signed certificate
    secure = requests.get(f"{nginx_and_gunicorn['https_url']}/api/health", verify=trusted, timeout=10)
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    refused = requests.get(f"{nginx_and_gunicorn['https_url']}/api/health?q={'a' * 6000}", verify=trusted, timeout=10)
    assert refused.status_code == 414 and "Strict-Transport-Security" in refused.headers
    plain = requests.get(f"{nginx_and_gunicorn['url']}/api/health", timeout=10)
    assert plain.status_code == 200 and "Strict-Transport-Security" not in plain.headers
