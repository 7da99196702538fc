"""What operators type (replies, notes): trimmed, of a bounded length, and storable."""
from __future__ import annotations

from chatcenter.errors import BadInput


def clean_text(text, longest: int, field: str = "text") -> str:
    """`text` trimmed, 1 to `longest` characters; BadInput naming `field` otherwise."""
    if not isinstance(text, str):
        raise BadInput(field, "must be a string")
    text = text.strip()
    if not 1 <= len(text) <= longest:
        raise BadInput(field, f"must be 1 to {longest} characters after trimming, got {len(text)}")
    # Neither can be stored (PostgreSQL refuses NUL; a lone surrogate is not UTF-8) nor sent.
    if "\x00" in text:
        raise BadInput(field, "must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(field, "is not valid Unicode text (a lone surrogate)") from None
    return text
