"""The key that signs the inbox's session cookies (and with them the CSRF tokens).

SECRET_KEY wins. Without it, a key is generated once into instance/secret_key, so
`make run` on a fresh clone works and sessions survive restarts; every process of the
machine reads the same file. Several machines behind one address need SECRET_KEY set,
the same on each, or a session signed by one is refused by the next.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from chatcenter.config import PROJECT_ROOT, SECRET_KEY_MIN, Settings

KEY_FILE = PROJECT_ROOT / "instance" / "secret_key"


def resolve_secret_key(settings: Settings, key_file: Path = KEY_FILE) -> str:
    if settings.secret_key:
        return settings.secret_key
    try:
        return _read_or_create(key_file)
    except OSError as exc:
        raise SystemExit(f"configuration error: SECRET_KEY is empty and {key_file} cannot be read or created "
                         f"({type(exc).__name__}): set SECRET_KEY (at least {SECRET_KEY_MIN} characters)") from None


def _read_or_create(key_file: Path) -> str:
    if not key_file.exists():
        _create(key_file)
    key = key_file.read_text().strip()
    if len(key) < SECRET_KEY_MIN:
        raise OSError(f"{key_file} holds fewer than {SECRET_KEY_MIN} characters")
    return key


def _create(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then linked into place: of processes starting together exactly one
    # key wins, and none reads a half-written file.
    temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            pass  # another process won; use its key
    finally:
        temporary.unlink(missing_ok=True)
