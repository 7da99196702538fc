"""Dependencies we rely on beyond their public surface: pinned, and checked on upgrade."""
from __future__ import annotations

import os

import jinja2
import redis
import requests
import urllib3

from chatcenter import runtime
from chatcenter.clients.deepseek import _cap_socket_timeout
from chatcenter.config import PROJECT_ROOT
from tests.stubs import deepseek_stub as ds


def test_urllib3_is_pinned_at_the_installed_version():
    # chatcenter/clients/deepseek.py imports urllib3 itself: it must not float with requests.
    pins = (PROJECT_ROOT / "requirements.txt").read_text().split()
    assert f"urllib3=={urllib3.__version__}" in pins


def test_the_deepseek_deadline_still_reaches_urllib3s_socket(deepseek_stub):
    """Fails when a urllib3 upgrade moves the private attribute the deadline relies on."""
    deepseek_stub.script(ds.slow_blank_lines(1.0))
    with requests.post(f"{deepseek_stub.url}/chat/completions", json={}, stream=True, timeout=5,
                       headers={"Authorization": f"Bearer {deepseek_stub.api_key}"}) as resp:
        assert _cap_socket_timeout(resp, 0.25) is True


def test_jinja_is_pinned_at_the_installed_version():
    # The inbox binds its templates' gettext with jinja2.ext's private newstyle wrappers.
    pins = (PROJECT_ROOT / "requirements.txt").read_text().split()
    assert f"jinja2=={jinja2.__version__}" in pins
    from jinja2.ext import _make_new_gettext, _make_new_ngettext  # noqa: F401  (still there)


def test_a_connection_opened_after_fork_still_names_redis_py_and_its_version(redis_url):
    """The driver info is worked out once (chatcenter/runtime.py): a work-horse's fresh
    connection must still carry what it tells Redis (CLIENT SETINFO, Redis 7.2 and newer),
    as redis-py's own default would."""
    client = runtime.redis_client(redis_url)
    client.ping()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a work-horse: the pool it inherits starts empty, the connection is new
        try:
            client.ping()
            connection = client.connection_pool.get_connection()
            os.write(write, f"{connection.driver_info.formatted_name} {connection.driver_info.lib_version}".encode())
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    client.close()
    assert answer == f"redis-py {redis.__version__}"


def test_a_body_read_by_deadline_is_still_what_requests_answers_from():
    """chatcenter/clients/wb.py reads WB's answer itself, chunk by chunk against a deadline
    (a trickling server would otherwise hold a sync for hours), and hands the bytes to the
    Response through its private `_content`/`_content_consumed`, so `.json()` and `.text`
    work as usual. Fails when a requests upgrade stops answering from them."""
    response = requests.Response()
    response.status_code, response.encoding = 200, "utf-8"
    response._content, response._content_consumed = b'{"result": "\xd0\xbe\xd0\xba"}', True
    assert response.json() == {"result": "ок"}
    assert response.text == '{"result": "ок"}'


def test_no_private_name_of_sentry_sdk_or_rq_in_the_product_code():
    """Issue 23: the stock integrations and RQ's public API only (tests may look deeper)."""
    import re

    private = re.compile(r"(?:sentry_sdk|rq)\.[\w.]*\._|from (?:sentry_sdk|rq)[\w.]* import _|_sentry_trace_headers")
    files = [*(PROJECT_ROOT / "chatcenter").rglob("*.py"), *(PROJECT_ROOT / "jobs").rglob("*.py"),
             *PROJECT_ROOT.glob("*.py")]
    found = [f"{path.name}:{n}" for path in files
             for n, line in enumerate(path.read_text().splitlines(), 1) if private.search(line)]
    assert found == []


def test_spectree_and_pydantic_are_pinned_at_the_installed_versions():
    # The API's validation and document come from them (README "Design notes").
    import pydantic
    from importlib.metadata import version

    pins = (PROJECT_ROOT / "requirements.txt").read_text().split()
    assert f"spectree=={version('spectree')}" in pins
    assert f"pydantic=={pydantic.VERSION}" in pins


def test_spectree_passes_the_apis_answers_through_as_orjson_wrote_them(app, api):
    """web/api/openapi.py's Documented answers are described, not validated and written again:
    fails when a spectree upgrade re-serialises them (pydantic writes no final newline)."""
    from tests.helpers import add_seller

    add_seller(app, name="Магазин")
    answer = api.get("/api/sellers")
    with app.test_request_context():
        written = app.json.response(sellers=answer.get_json()["sellers"]).get_data()
    assert answer.get_data() == written and written.endswith(b"\n") and "Магазин".encode() in written
