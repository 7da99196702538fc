"""Photos and files both ways, through real processes: the app served over HTTP, the real
worker (`python worker.py`, forking, scheduler on), the WB stub serving events with images
and files and /api/v1/seller/download/{id} (one file answering 202 first), and Chromium.

A buyer's files are fetched from WB once each, whatever the page views, and shown as
thumbnails and links on our own URLs (the API's needs a key); an operator's PNG reaches WB
as a multipart `file` part; a program renamed .png and a 6 MB file are refused, named.
Writes docs/img/attachments.png, attachments-mobile.png, attachments-pending.png (a photo in
WB's moderation) and attachments-reply.png (the reply form with a photo to send).
"""
from __future__ import annotations

import time

import requests
from sqlalchemy import func, select

from chatcenter.actions import request_sync
from chatcenter.chat_store import record_message
from chatcenter.models import Attachment, AttachmentContent, Chat, Message, Reply, utcnow
from tests.files import EXE, jpeg_like, pdf, png
from tests.helpers import add_seller, resources, wait_until
from tests.inbox_support import add_operator
from tests.api_client import create_key
from tests.stubs.wb_stub import MESSAGE_PATH
from tests.test_inbox_browser import IMAGES, PHONE, browser, context, live, shoot, sign_in, worker  # noqa: F401 - fixtures

QUESTION = "Коробка пришла разбитая, куртка порвана. Фото прикладываю, и чек."
# Every image the selector finds is loaded and drawn (naturalWidth > 0).
DRAWN = "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)"
MB = 1024 * 1024


def files_ready(app, count: int) -> bool:
    with resources(app).db.session() as session:
        return session.scalar(select(func.count()).select_from(Attachment)
                              .where(Attachment.state == "ready", Attachment.reply_id.is_(None))) == count


def chat_id_of(app) -> int:
    with resources(app).db.session() as session:
        return session.scalar(select(Chat.id))


def test_a_buyers_photos_and_receipt_are_fetched_once_and_shown_on_our_urls(live, worker, context, wb_stub):
    from playwright.sync_api import expect

    photo, close_up, receipt = png(96, 72, (180, 40, 30)), png(72, 96, (30, 90, 160)), pdf("Receipt 4412")
    seller = add_seller(live.app, name="Куртки и пальто")
    wb_chat = wb_stub.add_chat(client_name="Ирина Соколова", text=QUESTION)
    held = wb_stub.add_file(close_up, "image/png", moderated_first=2)  # WB moderates it first: 202, 202
    ids = [wb_stub.add_file(photo, "image/png"), held, wb_stub.add_file(receipt, "application/pdf")]
    wb_stub.add_event(wb_chat["chatID"], QUESTION, is_new_chat=True, attachments={
        "images": [{"downloadID": ids[0], "url": "https://wb.example/a"}, {"downloadID": ids[1], "url": "b"}],
        "files": [{"downloadID": ids[2], "name": "чек 4412.pdf", "contentType": "application/pdf",
                   "size": len(receipt), "url": "https://wb.example/c"}],
        "goodCard": {"nmID": 180000001, "price": 5990, "priceCurrency": "RUB", "size": "M"}})
    add_operator(live.app, "anna@shop.example")
    request_sync(resources(live.app), seller)
    assert wait_until(lambda: chat_id_of(live.app) is not None, timeout=30)
    chat_id = chat_id_of(live.app)

    # While WB moderates the close-up, the thread says so; the live refresh replaces it.
    page = context().new_page()
    sign_in(page, live, "anna@shop.example")
    page.goto(live(f"/chats/{chat_id}"))
    thread = page.locator(".thread")
    expect(thread.locator(".placeholder").first).to_contain_text("Wildberries", timeout=20_000)
    shoot(page, "attachments-pending.png")
    expect(thread.locator("img.thumb")).to_have_count(2, timeout=60_000)  # no reload
    expect(thread.locator(".placeholder")).to_have_count(0)
    page.wait_for_function(DRAWN, arg=".thread img.thumb")
    for img in thread.locator("img.thumb").all():
        assert img.evaluate("i => i.naturalWidth") > 0
        assert img.evaluate("i => i.closest('a').getAttribute('href')") == img.get_attribute("src")
    link = thread.get_by_role("link", name="чек 4412.pdf")
    expect(link).to_be_visible()
    expect(thread.get_by_role("link", name="Product 180000001")).to_be_visible()

    # However many page views, each file came from WB once (the close-up: two 202s, then once).
    for _ in range(3):
        page.reload()
        expect(page.locator("img.thumb")).to_have_count(2)
    assert [wb_stub.downloads(i) for i in ids] == [1, 3, 1]
    metrics = requests.get(live("/metrics")).text  # WB's download endpoint, counted by status
    assert 'chatcenter_wb_requests_total{endpoint="download",status="202"} 2' in metrics
    assert 'chatcenter_wb_requests_total{endpoint="download",status="200"} 3' in metrics
    time.sleep(0.3)
    shoot(page, "attachments.png")
    phone = context(viewport=PHONE).new_page()
    sign_in(phone, live, "anna@shop.example")
    phone.goto(live(f"/chats/{chat_id}"))
    expect(phone.locator("img.thumb")).to_have_count(2)
    time.sleep(0.3)
    shoot(phone, "attachments-mobile.png")

    # The page's URL serves the stored bytes with their checked type, for the signed-in browser.
    src = page.locator("img.thumb").first.get_attribute("src")
    answer = page.request.get(live(src))
    assert answer.status == 200 and answer.body() == photo
    assert answer.headers["content-type"] == "image/png" and answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert answer.headers["content-disposition"].startswith("inline;")
    assert "img-src 'self'" in page.request.get(live(f"/chats/{chat_id}")).headers["content-security-policy"]
    pdf_answer = page.request.get(live(link.get_attribute("href")))
    assert pdf_answer.body() == receipt and pdf_answer.headers["content-type"] == "application/pdf"
    assert pdf_answer.headers["content-disposition"] == (
        "attachment; filename=\"____4412.pdf\"; filename*=UTF-8''%D1%87%D0%B5%D0%BA%204412.pdf")
    assert requests.get(live(src), allow_redirects=False).status_code == 302  # no session: the sign-in page

    # The API: the same files in the message, on /api URLs that need a key.
    key = create_key(live.app).key
    chat = requests.get(live(f"/api/chats/{chat_id}"), headers={"Authorization": f"Bearer {key}"}).json()
    files = chat["messages"][0]["attachments"]
    assert [(f["kind"], f["state"], f["content_type"]) for f in files] == [
        ("image", "ready", "image/png"), ("image", "ready", "image/png"), ("file", "ready", "application/pdf"),
        ("product", "ready", None)]
    assert files[2]["name"] == "чек 4412.pdf" and files[2]["size"] == len(receipt)
    assert files[3]["url"] == "https://www.wildberries.ru/catalog/180000001/detail.aspx"
    assert requests.get(live(files[0]["url"])).status_code == 401
    got = requests.get(live(files[1]["url"]), headers={"Authorization": f"Bearer {key}"})
    assert got.status_code == 200 and got.content == close_up
    assert requests.get(live(f"/api/chats/{chat_id}/attachments/nope"),
                        headers={"Authorization": f"Bearer {key}"}).status_code == 404
    assert [wb_stub.downloads(i) for i in ids] == [1, 3, 1]  # still once each

    # The operator answers with a photo from the reply form: previewed, then sent to WB as a file part.
    reply_photo = png(120, 80, (20, 140, 60))
    page.goto(live(f"/chats/{chat_id}"))
    page.get_by_label("Your reply").fill("Ирина, простите! Вот фото новой куртки, отправим сегодня.")
    page.locator("#reply-files").set_input_files(
        files=[{"name": "новая куртка.png", "mimeType": "image/png", "buffer": reply_photo}])
    expect(page.locator(".previews canvas")).to_have_count(1)
    # A receipt dropped on the form joins the photo chosen with the button.
    receipt = pdf("Накладная 4412")
    page.evaluate("""([name, bytes]) => {
        const dropped = new DataTransfer();
        dropped.items.add(new File([new Uint8Array(bytes)], name, {type: "application/pdf"}));
        document.querySelector(".reply-form").dispatchEvent(
            new DragEvent("drop", {dataTransfer: dropped, bubbles: true, cancelable: true}));
    }""", ["накладная.pdf", list(receipt)])
    expect(page.locator(".previews li")).to_have_count(2)
    time.sleep(0.3)
    page.locator(".reply-form").screenshot(path=str(IMAGES / "attachments-reply.png"))
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".reply-sent").last).to_contain_text("Your reply: Sent", timeout=30_000)
    [parts] = wb_stub.sent_files
    assert [(p["field"], p["filename"], p["content_type"], p["content"]) for p in parts] == [
        ("file", "новая куртка.png", "image/png", reply_photo), ("file", "накладная.pdf", "application/pdf", receipt)]
    mine = page.locator(".message.from-seller img.thumb")
    expect(mine).to_have_count(1, timeout=20_000)
    page.wait_for_function(DRAWN, arg=".message.from-seller img.thumb")
    assert mine.evaluate("i => i.naturalWidth") > 0


def test_a_reply_with_a_png_goes_to_wb_as_a_file_part_and_bad_files_are_refused(live, worker, wb_stub):
    seller = add_seller(live.app)
    wb_chat = wb_stub.add_chat(client_name="Олег Петров", text="Пришлите, пожалуйста, фото бирки")
    wb_stub.add_event(wb_chat["chatID"], "Пришлите, пожалуйста, фото бирки", is_new_chat=True)
    request_sync(resources(live.app), seller)
    assert wait_until(lambda: chat_id_of(live.app) is not None, timeout=30)
    chat_id = chat_id_of(live.app)
    key = create_key(live.app).key
    auth = {"Authorization": f"Bearer {key}"}
    url = live(f"/api/chats/{chat_id}/reply")
    tag = png(80, 60)

    def post(files, key_header="k-1", text="Вот фото бирки"):
        return requests.post(url, headers={**auth, "Idempotency-Key": key_header}, data={"text": text},
                             files=[("file", f) for f in files])

    # Refused before anything is queued, each naming the file.
    exe = post([("tag.png", tag, "image/png"), ("virus.png", EXE, "image/png")])
    assert exe.status_code == 400 and exe.json()["detail"] == (
        'file: "virus.png" is not a JPEG, PNG or PDF file (judged by its content, not its name)')
    big = post([("scan.jpg", jpeg_like(6 * MB), "image/jpeg")])
    assert big.status_code == 413 and big.json()["detail"] == (
        'file: "scan.jpg" is 6.0 MB; each file may be at most 5 MB')
    many = post([(f"{n}.png", tag, "image/png") for n in range(6)])
    assert many.status_code == 400 and many.json()["detail"].startswith("file:")
    assert requests.post(url, headers=auth, data={"text": "x"}, files=[("file", ("a.png", b"\x89PNG" + b"0" * (31 * MB),
                                                                             "image/png"))]).status_code == 413
    with resources(live.app).db.session() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 0
    assert requests.get(live(f"/api/chats/{chat_id}/attachments/x")).status_code == 401

    # Accepted: the worker sends it as a multipart `file` part; the same key and files replay it.
    sent = post([("бирка.png", tag, "image/png"), ("счёт.pdf", pdf(), "application/pdf")])
    assert sent.status_code == 202, sent.text
    again = post([("бирка.png", tag, "image/png"), ("счёт.pdf", pdf(), "application/pdf")])
    assert again.headers["Idempotent-Replayed"] == "true"  # the same reply (in its current state)
    assert (again.json()["reply_id"], again.json()["job_id"]) == (sent.json()["reply_id"], sent.json()["job_id"])
    other = post([("бирка.png", png(81, 60), "image/png")])
    assert other.status_code == 422 and other.json()["detail"].startswith("Idempotency-Key:")
    assert wait_until(lambda: wb_stub.sent_files, timeout=30)
    [parts] = wb_stub.sent_files
    assert [(p["field"], p["filename"], p["content_type"]) for p in parts] == [
        ("file", "бирка.png", "image/png"), ("file", "счёт.pdf", "application/pdf")]
    assert parts[0]["content"] == tag
    assert [r.path for r in wb_stub.requests].count(MESSAGE_PATH) == 1

    def shown():
        chat = requests.get(live(f"/api/chats/{chat_id}"), headers=auth).json()
        return chat["messages"][-1]["attachments"] if chat["messages"][-1]["sender"] == "seller" else None
    assert wait_until(shown, timeout=30)
    mine = shown()
    assert [(a["kind"], a["name"], a["state"]) for a in mine] == [("image", "бирка.png", "ready"),
                                                                  ("file", "счёт.pdf", "ready")]
    assert requests.get(live(mine[0]["url"]), headers=auth).content == tag
    # The next sync reads WB's echo (with WB's copies of the files): nothing added, nothing fetched.
    request_sync(resources(live.app), seller)
    time.sleep(3)
    with resources(live.app).db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message).where(Message.sender == "seller")) == 1
        assert session.scalar(select(func.count()).select_from(Attachment)) == 2
    assert wb_stub.downloads() == 0


def test_a_file_not_ready_answers_409_with_its_state_and_the_commands_count_and_prune(make_app, make_api):
    app = make_app()
    api = make_api(app)
    seller = add_seller(app)
    with resources(app).db.session() as session:
        chat = Chat(seller_id=seller, wb_chat_id="wb-1", awaiting_reply=False, analysis_due=False, priority=1,
                    last_message_at=utcnow())
        session.add(chat)
        session.flush()
        message = Message(chat_id=chat.id, wb_event_id="e-1", sender="client", text="",
                          attachments={"images": [{"downloadID": "m1"}, {"downloadID": "r1"}]}, sent_at=utcnow())
        session.add(message)
        session.flush()
        record_message(chat, message)
        held = Attachment(chat_id=chat.id, message_id=message.id, position=0, download_id="m1", kind="image",
                          name="", content_type="", state="moderation")
        stored = Attachment(chat_id=chat.id, message_id=message.id, position=1, download_id="r1", kind="image",
                            name="a.png", content_type="image/png", size=1000, state="ready")
        session.add_all([held, stored])
        session.flush()
        session.add(AttachmentContent(attachment_id=stored.id, content=png()))
        chat_id = chat.id
    answer = api.get(f"/api/chats/{chat_id}/attachments/m1")
    assert answer.status_code == 409 and answer.get_json() == {
        "detail": "attachment m1 is not available: WB is still moderating it", "state": "moderation"}
    assert api.get(f"/api/chats/{chat_id + 1}/attachments/r1").status_code == 404

    runner = app.test_cli_runner()
    stats = runner.invoke(args=["attachments", "stats"])
    assert stats.exit_code == 0, stats.output
    assert "ready\t1 files\t1000 bytes" in stats.output and "moderation\t1 files" in stats.output
    assert f"seller {seller}\tTest shop\t1 files stored\t1000 bytes" in stats.output
    refused = runner.invoke(args=["attachments", "prune"])
    assert refused.exit_code == 1 and "pass --older-than DAYS, or set ATTACHMENTS_KEEP_DAYS" in refused.output
    assert "removed 0 files" in runner.invoke(args=["attachments", "prune", "--older-than", "30"]).output
    with resources(app).db.session() as session:
        session.get(Chat, chat_id).last_message_at = utcnow().replace(year=2020)
    pruned = runner.invoke(args=["attachments", "prune", "--older-than", "30"])
    assert pruned.exit_code == 0, pruned.output
    assert f"chat {chat_id} (seller {seller}): removed 2 files, 1000 bytes" in pruned.output
    assert api.get(f"/api/chats/{chat_id}/attachments/r1").status_code == 404


def test_the_reply_form_refuses_bad_files_by_name_and_send_again_keeps_the_files(app, client):
    import io

    from chatcenter.models import ReplyState
    from tests.inbox_support import csrf_token, form_value
    from tests.inbox_support import sign_in as sign_in_client

    seller = add_seller(app)
    add_operator(app)
    assert sign_in_client(client).status_code == 302
    with resources(app).db.session() as session:
        chat = Chat(seller_id=seller, wb_chat_id="wb-1", reply_sign="sign-1", awaiting_reply=True,
                    analysis_due=False, priority=1, last_message_at=utcnow())
        session.add(chat)
        session.flush()
        chat_id = chat.id
    page = client.get(f"/chats/{chat_id}").text
    assert 'enctype="multipart/form-data"' in page and 'name="file" multiple' in page

    def send(files, key, **extra):
        return client.post(f"/chats/{chat_id}/reply", data={
            "csrf_token": csrf_token(page), "idempotency_key": key, "text": "Вот фото бирки",
            "file": [(io.BytesIO(content), name) for name, content in files], **extra})

    refused = send([("tag.png", png()), ("virus.png", EXE)], "k1")
    assert refused.status_code == 400
    assert "Not sent: &#34;virus.png&#34; is not a JPEG, PNG or PDF file" in refused.text
    assert "Вот фото бирки" in refused.text  # the text stays in the box
    big = send([("scan.jpg", jpeg_like(6 * MB))], "k2")
    assert big.status_code == 413 and "&#34;scan.jpg&#34; is 6.0 MB" in big.text
    with resources(app).db.session() as session:
        assert session.scalar(select(func.count()).select_from(Reply)) == 0

    assert send([("tag.png", png())], "k3").status_code == 302  # queued (no worker here)
    with resources(app).db.session() as session:
        first = session.scalar(select(Reply))
        first.state, first.error = ReplyState.FAILED, "WB refused it"
        first_id = first.id
    thread = client.get(f"/chats/{chat_id}").text
    assert form_value(thread, "files_of") == str(first_id)
    again = client.post(f"/chats/{chat_id}/reply", data={
        "csrf_token": csrf_token(thread), "idempotency_key": f"again-{first_id}", "text": "Вот фото бирки",
        "files_of": str(first_id)})
    assert again.status_code == 302
    with resources(app).db.session() as session:
        second = session.scalar(select(Reply).where(Reply.id != first_id))
        names = session.scalars(select(Attachment.name).where(Attachment.reply_id == second.id)).all()
    assert names == ["tag.png"]


def test_a_file_too_large_or_not_the_type_announced_is_refused_and_shown_so(job_app, wb_stub, make_api):
    from tests.helpers import run_jobs

    seller = add_seller(job_app)
    wb_chat = wb_stub.add_chat(client_name="Пётр Иванов")
    ids = [wb_stub.add_file(EXE, "image/png"), wb_stub.add_file(png() + b"0" * (5 * MB), "image/png"),
           wb_stub.add_file(png(), "image/png")]
    wb_stub.add_event(wb_chat["chatID"], "Вот", is_new_chat=True, attachments={
        "images": [{"downloadID": ids[0]}, {"downloadID": ids[1]}],
        "files": [{"downloadID": ids[2], "name": "акт.pdf", "contentType": "application/pdf"}]})
    request_sync(resources(job_app), seller)
    run_jobs(job_app, queues=("sync", "attachments"))
    api = make_api(job_app)
    chat = api.get(f"/api/chats/{chat_id_of(job_app)}").get_json()
    assert [(a["kind"], a["state"]) for a in chat["messages"][0]["attachments"]] == [
        ("image", "refused"), ("image", "refused"), ("file", "refused")]
    with resources(job_app).db.session() as session:
        reasons = session.scalars(select(Attachment.error).order_by(Attachment.position)).all()
        assert session.scalar(select(func.count()).select_from(AttachmentContent)) == 0
    assert reasons == ["not a JPEG, PNG or PDF file", "larger than 5 MB",
                       "WB announced application/pdf, the file is image/png"]
    refused = api.get(chat["messages"][0]["attachments"][0]["url"])
    assert refused.status_code == 409 and refused.get_json()["state"] == "refused"
    assert [wb_stub.downloads(i) for i in ids] == [1, 1, 1]
    run_jobs(job_app, queues=("attachments",))  # nothing left to fetch: no request
    assert wb_stub.downloads() == 3
