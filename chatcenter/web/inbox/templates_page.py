"""The Saved replies page: the team's reply templates listed, added, changed and deleted
(chatcenter.saved_replies, as the API's /api/templates and `flask templates`)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from chatcenter import runtime, saved_replies
from chatcenter.errors import BadInput
from chatcenter.web.inbox.blueprint import bp


def _page(status: int = 200, error: str | None = None, draft: dict | None = None):
    with runtime.get().db.session() as session:
        templates = saved_replies.list_all(session)
    return render_template("inbox/saved_replies.html", templates=templates, error=error, draft=draft or {},
                           placeholders=saved_replies.braced(saved_replies.PLACEHOLDERS), name_max=saved_replies.NAME_MAX,
                           text_max=saved_replies.MESSAGE_MAX), status


def _refusal(exc: Exception) -> str:
    """The operator's words for a refused saved reply."""
    if isinstance(exc, saved_replies.UnknownPlaceholders):
        return _("Unknown placeholders: %(names)s. Use %(known)s.", names=saved_replies.braced(exc.names),
                 known=saved_replies.braced(saved_replies.PLACEHOLDERS))
    if isinstance(exc, saved_replies.NameTaken):
        return _("Another saved reply is named “%(name)s”: choose another name.", name=exc.name)
    if getattr(exc, "field", "") == "name":
        return _("Give it a name of 1 to %(max)s characters.", max=saved_replies.NAME_MAX)
    return _("Write a text of 1 to %(max)s characters.", max=saved_replies.MESSAGE_MAX)


@bp.get("/templates")
def templates_page():
    return _page()


def _save(change, draft: dict, done: str):
    try:
        with runtime.get().db.session() as session:
            saved = change(session)
    except (BadInput, saved_replies.NameTaken) as exc:
        return _page(409 if isinstance(exc, saved_replies.NameTaken) else 400, _refusal(exc), draft)
    flash(done % {"name": saved["name"]}, "ok")
    return redirect(url_for("inbox.templates_page", _anchor=f"template-{saved['id']}"))


@bp.post("/templates")
def add_template():
    name, text = request.form.get("name", ""), request.form.get("text", "")
    return _save(lambda session: saved_replies.create(session, name, text), {"id": None, "name": name, "text": text},
                 _("Saved reply “%(name)s” added."))


@bp.post("/templates/<int:template_id>")
def change_template(template_id: int):
    name, text = request.form.get("name", ""), request.form.get("text", "")
    return _save(lambda session: saved_replies.change(session, template_id, name=name, text=text),
                 {"id": template_id, "name": name, "text": text}, _("Saved reply “%(name)s” changed."))


@bp.post("/templates/<int:template_id>/delete")
def delete_template(template_id: int):
    with runtime.get().db.session() as session:
        name = saved_replies.get(session, template_id).name
        saved_replies.remove(session, template_id)
    flash(_("Saved reply “%(name)s” deleted.", name=name), "ok")
    return redirect(url_for("inbox.templates_page"))
