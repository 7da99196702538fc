"""The inbox in a real browser: Playwright (PyPI) driving Debian's Chromium against the app
served for real (a werkzeug server thread on a free port), a real worker process (forking
RQ worker, scheduler on), and the WB and DeepSeek stubs over loopback.

This run writes the README's screenshots: docs/img/chat.png, sellers.png and their 360 px
versions *-mobile.png (test_keys_browser.py writes the inbox's, with a fuller list).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace

import pytest
from werkzeug.serving import make_server

from chatcenter.actions import request_sync
from chatcenter.config import PROJECT_ROOT
from tests.helpers import WB_TOKEN, add_seller, overrides, resources, settings_env, wait_until
from tests.inbox_support import PASSWORD, add_operator
from tests.stubs import deepseek_stub as ds

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IMAGES = PROJECT_ROOT / "docs" / "img"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 360, "height": 780}
HOUR_MS = 3600 * 1000

# The buyers, what they wrote, and what the (stubbed) AI says about each chat. The marker
# in the text picks the analysis, so the order does not depend on the order of the jobs.
XSS = "<script>alert('xss')</script> Подскажите, какой размер <b>M</b> на рост 180?"
CHATS = {
    "irina": {"name": "Ирина Соколова", "ago_h": 3, "text": "Заказ не пришёл, жду уже неделю! Где моя куртка?",
              "ai": {"sentiment": "negative", "category": "delivery", "urgency": "high",
                     "summary": "Покупательница неделю ждёт куртку и спрашивает, где заказ.",
                     "suggested_reply": "Здравствуйте, Ирина! Приносим извинения за задержку. "
                                        "Мы уже выясняем у склада, где ваш заказ, и напишем вам сегодня."}},
    "oleg": {"name": "Олег Петров", "ago_h": 1, "text": XSS,
             "ai": {"sentiment": "neutral", "category": "question", "urgency": "medium",
                    "summary": "Покупатель спрашивает, подойдёт ли размер M при росте 180 см.",
                    "suggested_reply": "Здравствуйте, Олег! При росте 180 см советуем размер L."}},
    "petr": {"name": "Пётр Иванов", "ago_h": 5, "text": "Спасибо, всё пришло, отличная куртка!",
             "ai": {"sentiment": "positive", "category": "other", "urgency": "low",
                    "summary": "Покупатель благодарит: товар пришёл, всё понравилось.",
                    "suggested_reply": "Спасибо за отзыв, Пётр! Будем рады видеть вас снова."}},
    "maria": {"name": "Мария Кузнецова", "ago_h": 26, "text": "Можно вернуть товар, если не подошёл?",
              "answer": "Да, оформите возврат в приложении в течение 21 дня.",
              "ai": {"sentiment": "neutral", "category": "return", "urgency": "low",
                     "summary": "Покупательница спрашивает о возврате; ей ответили.",
                     "suggested_reply": "Если будут вопросы по возврату, напишите нам."}},
}
NEW_QUESTION = "А когда у вас будет скидка на куртки?"


def analysis_for(body: dict):
    transcript = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
    for chat in CHATS.values():
        if chat["text"] in transcript:
            return ds.ok(chat["ai"])
    return None


def seed_wb(stub) -> dict[str, dict]:
    now = int(time.time() * 1000)
    made = {}
    for key, chat in CHATS.items():
        wb_chat = stub.add_chat(client_name=chat["name"], text=chat["text"], nm_id=180000000 + len(made),
                                price=4990 + 1000 * len(made))
        at = now - chat["ago_h"] * HOUR_MS
        stub.add_event(wb_chat["chatID"], text=chat["text"], is_new_chat=True, add_timestamp=at)
        if "answer" in chat:
            stub.add_event(wb_chat["chatID"], text=chat["answer"], sender="seller", add_timestamp=at + 60_000)
        made[key] = wb_chat
    return made


# ------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), "Chromium is missing: apt-get install -y chromium (.ci/run does it)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Live:
    url: str
    app: object
    settings: object

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def live(make_app, job_settings, deepseek_stub):
    """The app served over HTTP on a free port, as a browser reaches it."""
    settings = replace(job_settings, job_retry_delays=(1,))
    deepseek_stub.responder = analysis_for
    app = make_app(**overrides(settings))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="inbox-server", daemon=True)
    thread.start()
    yield Live(f"http://127.0.0.1:{server.server_port}", app, settings)
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def worker(live):
    """`python worker.py`: the real worker, forking a work-horse per job, until the test ends."""
    process = subprocess.Popen([sys.executable, "worker.py"], cwd=PROJECT_ROOT, env=settings_env(live.settings),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@pytest.fixture
def context(browser):
    made = []

    def new(**options):
        options.setdefault("viewport", DESKTOP)
        options.setdefault("timezone_id", "Europe/Moscow")
        options.setdefault("locale", "en-US")
        made.append(browser.new_context(**options))
        made[-1].set_default_timeout(20_000)
        return made[-1]

    yield new
    for ctx in made:
        ctx.close()


def shoot(page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / name), full_page=True)


def sign_in(page, live: Live, email: str, password: str = PASSWORD) -> None:
    page.goto(live("/login"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def row_names(page) -> list[str]:
    return page.locator(".chat-row .buyer").all_inner_texts()


# ---------------------------------------------------------------------------------- tests

def test_operator_signs_in_answers_the_most_urgent_chat_and_sees_new_messages(
        live, worker, context, wb_stub, deepseek_stub):
    from playwright.sync_api import expect

    shop = add_seller(live.app, name="Куртки и пальто")
    wb_stub.valid_tokens.add(WB_TOKEN)
    add_seller(live.app, name="Old shop", token="expired-token-of-an-old-shop")
    wb_chats = seed_wb(wb_stub)
    add_operator(live.app, "anna@shop.example")
    page = context().new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # Every page but the login needs a session; a wrong password is refused plainly.
    page.goto(live("/"))
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    sign_in(page, live, "anna@shop.example", "not the password at all")
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    sign_in(page, live, "anna@shop.example")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(page.get_by_text("No chats match these filters.")).to_be_visible()

    # Sync both sellers from the Sellers page; the refused token says what to do.
    page.get_by_role("link", name="Sellers").click()
    for seller in page.locator(".seller").all():
        seller.get_by_role("button", name="Sync now").click()
        expect(page.get_by_role("status").first).to_contain_text("Sync requested.")
    good, refused = page.locator(".seller").nth(0), page.locator(".seller").nth(1)
    expect(good.locator(".badge-state-ok")).to_have_text("OK", timeout=40_000)
    expect(refused.locator(".badge-state-auth_error")).to_have_text("Token refused", timeout=40_000)
    expect(refused).to_contain_text('printf %s "$TOKEN" | flask --app chatcenter sellers set-token')
    expect(refused.get_by_role("button", name="Sync now")).to_have_count(0)
    shoot(page, "sellers.png")

    # The inbox: awaiting chats by urgency, then the answered one; once every chat is analysed.
    page.get_by_role("link", name="Inbox").click()
    page.get_by_role("link", name="All", exact=True).click()  # the view with the answered chat too
    assert wait_until(lambda: page.reload() and page.locator(".chat-row .badge-none").count() == 0
                      and page.locator(".chat-row").count() == 4, timeout=60, interval=1), worker_output(worker)
    assert row_names(page) == ["Ирина", "Олег", "Пётр", "Мария"]  # first names only
    first = page.locator(".chat-row").first
    expect(first.locator(".badge")).to_have_text(["High urgency", "Negative", "Delivery"])
    expect(first).to_contain_text(CHATS["irina"]["ai"]["summary"])
    expect(first).to_contain_text("Waiting 3 hr")
    expect(page.locator(".chat-row").nth(3)).to_contain_text("Answered")
    expect(page.locator(".summary-line p").first).to_contain_text("3 chats await a reply")
    assert "Соколова" not in page.content()
    phone = context(viewport=PHONE, storage_state=page.context.storage_state()).new_page()

    # A buyer's HTML is text: shown as typed, never run.
    expect(page.locator(".chat-row").nth(1).locator(".preview")).to_have_text(XSS)
    page.locator(".chat-row").nth(1).get_by_role("link").click()
    expect(page.locator(".message.from-client .message-text")).to_have_text(XSS)
    sources = page.locator("script").evaluate_all("scripts => scripts.map(s => s.getAttribute('src'))")
    assert sources and all(src and src.startswith("/static/") for src in sources), sources  # ours, no other
    assert page.locator("b").count() == 0
    assert dialogs == []

    # The most urgent chat, opened from the keyboard: the reply box holds the AI's suggestion.
    page.goto(live("/"))
    page.locator(".chat-row a").first.focus()
    page.keyboard.press("Enter")
    suggestion = CHATS["irina"]["ai"]["suggested_reply"]
    expect(page.get_by_label("Your reply")).to_have_value(suggestion)
    expect(page.locator(".analysis-card")).to_contain_text(f"By {deepseek_stub.model}")
    expect(page.locator(".product-card")).to_contain_text("180000000")
    shoot(page, "chat.png")
    phone.goto(page.url)
    shoot(phone, "chat-mobile.png")

    # Send (a double click sends once): queued, then sent, and the reply joins the thread.
    page.get_by_role("button", name="Send").dblclick()
    expect(page).to_have_url(re.compile(r"\?reply=\d+#replies$"))
    expect(page.locator(".reply-state.reply-sent")).to_contain_text("Sent", timeout=40_000)
    expect(page.locator(".message.from-seller .message-text")).to_have_text(suggestion)
    sent = [m for m in wb_stub.sent_messages if m.get("message") == suggestion]
    assert len(sent) == 1 and len(wb_stub.sent_messages) == 1
    assert sent[0]["replySign"] == wb_chats["irina"]["replySign"]

    # Back in the inbox ("Needs reply") the answered chat has left the list; in "All" it moved down.
    page.get_by_role("link", name="« Inbox").click()
    assert row_names(page) == ["Олег", "Пётр"]
    page.get_by_role("link", name="All", exact=True).click()
    assert row_names(page) == ["Олег", "Пётр", "Ирина", "Мария"]

    # A new buyer message appears without a reload (the page refreshes its list itself).
    page.evaluate("window.notReloaded = true")
    wb_stub.add_event(wb_chats["maria"]["chatID"], text=NEW_QUESTION)
    request_sync(resources(live.app), shop)  # as the periodic sync would
    expect(page.locator(".chat-row", has_text=NEW_QUESTION)).to_be_visible(timeout=45_000)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator(".summary-line p").first).to_contain_text("3 chats await a reply")

    # Sign out: the session is gone.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(live("/"))
    expect(page).to_have_url(re.compile(r"/login"))
    assert dialogs == []


def worker_output(process) -> str:
    return f"worker still running: {process.poll() is None}"


def test_five_failed_sign_ins_lock_the_account_for_this_browser(live, context):
    from playwright.sync_api import expect

    add_operator(live.app, "boris@shop.example")
    page = context().new_page()
    for attempt in range(1, 6):
        sign_in(page, live, "boris@shop.example", f"wrong password {attempt}")
        expect(page.get_by_role("alert")).to_contain_text("Wrong e-mail or password.")
    expect(page.get_by_role("alert")).to_contain_text("Try again in 15 min.")
    sign_in(page, live, "boris@shop.example")  # the right password, but locked
    expect(page.get_by_role("alert")).to_have_text(
        "Too many failed sign-ins for this account from this address. Try again in 15 min.")
    expect(page).to_have_url(re.compile(r"/login"))


def test_the_interface_speaks_russian_and_switches_to_english(live, context, wb_stub):
    from playwright.sync_api import expect

    add_operator(live.app, "vera@shop.example")
    page = context(locale="ru-RU").new_page()  # Accept-Language: ru-RU
    page.goto(live("/login"))
    expect(page.get_by_role("heading", name="Вход")).to_be_visible()
    page.get_by_label("Эл. почта").fill("vera@shop.example")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Входящие")).to_be_visible()
    expect(page.get_by_label("Срочность")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.get_by_role("link", name="Продавцы").click()
    expect(page.get_by_role("heading", name="Продавцы")).to_be_visible()

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Sellers")).to_be_visible()
    page.get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.get_by_role("link", name="Русский").click()
    expect(page.get_by_role("heading", name="Входящие")).to_be_visible()
    page.get_by_role("button", name="Выйти").click()
    expect(page.get_by_role("heading", name="Вход")).to_be_visible()
