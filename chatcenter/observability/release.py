"""The release name reported to Sentry: chatcenter@<version>[+<commit>]."""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache

from chatcenter.config import PROJECT_ROOT

__version__ = "0.1.0"


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The short commit of the deployed tree, from the environment or git; '' if unknown."""
    for name in ("GIT_COMMIT", "SOURCE_VERSION"):  # set by CI / buildpacks
        if os.environ.get(name):
            return os.environ[name][:12]
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=2, check=True)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def release_name(configured: str = "") -> str:
    if configured:
        return configured
    commit = git_commit()
    return f"chatcenter@{__version__}+{commit}" if commit else f"chatcenter@{__version__}"
