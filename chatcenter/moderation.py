"""What WB's moderation refuses in a seller's message: links, e-mail addresses, phone
numbers and social-network names. A reply with one is refused before it is queued (it
would come back as WB's 400), and the AI's suggestion with one is not pre-filled.

The patterns lean towards WB's side: a phone-like number or a web address is flagged even
where WB might let it pass; an order or tracking number (other lengths) is not.
"""
from __future__ import annotations

import re

LINK, EMAIL, PHONE, SOCIAL = "link", "email", "phone", "social"
KINDS = (LINK, EMAIL, PHONE, SOCIAL)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TLDS = ("ru|рф|su|com|net|org|info|biz|io|me|ly|cc|by|kz|ua|uz|pro|app|link|shop|store|online|site|"
         "club|top|xyz")
_LINK = re.compile(r"https?://|\bwww\.|\b[\w-]+(?:\.[\w-]+)*\.(?:" + _TLDS + r")\b(?![.\w])(?:/\S*)?",
                   re.IGNORECASE)
# A run of digits with the separators people type inside phone numbers.
_NUMBER = re.compile(r"\+?\d[\d\s().-]{8,}\d")
_SOCIAL = re.compile(
    r"(?<!\w)(?:telegram|телеграм|whats\s?app|вотсап|ватсап|вацап|viber|вайбер|vkontakte|вконтакт|"
    r"instagram|инстаграм|facebook|фейсбук|одноклассник|tik\s?tok|тик\s?ток|youtube|ютуб|twitter|твиттер|"
    r"(?:vk|вк|tg|тг)(?!\w))",
    re.IGNORECASE)


def wb_would_refuse(text: str) -> list[str]:
    """The kinds (KINDS order) of what WB's moderation would refuse in `text`; [] if none."""
    emails = _EMAIL.findall(text)
    rest = _EMAIL.sub(" ", text)  # an address's domain is not a second finding
    found = {EMAIL: bool(emails), LINK: bool(_LINK.search(rest)),
             PHONE: any(_is_phone(m.group()) for m in _NUMBER.finditer(rest)), SOCIAL: bool(_SOCIAL.search(rest))}
    return [kind for kind in KINDS if found[kind]]


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if candidate.startswith("+"):
        return 10 <= len(digits) <= 13
    # Russian numbers: 8 or 7 and ten digits, or the ten digits of a mobile (9xx).
    return (len(digits) == 11 and digits[0] in "78") or (len(digits) == 10 and digits[0] == "9")
