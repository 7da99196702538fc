"""The inbox's catalogues: the committed .mo files are the compiled .po files, and every
string the code and templates mark for translation has a Russian translation that keeps
its placeholders. (README "Inbox" > Translations says how to update them.)"""
from __future__ import annotations

import gettext
import io
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from chatcenter.web.inbox.i18n import LANGUAGES, TRANSLATIONS

INBOX = TRANSLATIONS.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "_l": None,
            "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def compiled(language: str) -> dict:
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        return gettext.GNUTranslations(mo)._catalog


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_committed_mo_files_are_the_compiled_po_files(language):
    fresh = io.BytesIO()
    write_mo(fresh, catalog(language))
    fresh.seek(0)
    assert gettext.GNUTranslations(fresh)._catalog == compiled(language), (
        f"{language}/messages.mo is stale: run pybabel compile -d chatcenter/web/inbox/translations")


def marked_strings() -> set:
    with open(INBOX / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(INBOX), method_map, options_map, keywords=KEYWORDS):
        key = message[0] if isinstance(message, tuple) else message
        found.add((context, key))
    return found


def test_every_marked_string_has_a_russian_translation_with_its_placeholders():
    russian = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog("ru") if m.id}
    marked = marked_strings()
    assert len(marked) > 100  # the extraction really saw the templates and the code
    missing = sorted(str(key) for key in marked if key not in russian)
    assert not missing, f"not in ru/messages.po (run pybabel extract and update): {missing}"
    for key in marked:
        message = russian[key]
        assert not message.fuzzy, f"fuzzy: {key}"
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {key}"
        wanted = set(PLACEHOLDER.findall(ids[-1])) - {"num"}
        for translated in strings:
            assert set(PLACEHOLDER.findall(translated)) - {"num"} == wanted, f"placeholders differ: {key}"


def test_russian_plural_forms_cover_one_few_and_many():
    plural = next(m for m in catalog("ru") if isinstance(m.id, tuple))
    assert len(plural.string) == 3
    translations = gettext.GNUTranslations(open(TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.mo", "rb"))
    forms = [translations.ngettext(*plural.id, n) % {"num": n} for n in (1, 3, 5, 21)]
    assert forms == ["1 чат ждёт ответа", "3 чата ждут ответа", "5 чатов ждут ответа", "21 чат ждёт ответа"]

