"""The web process: `python web.py [GUNICORN OPTION ...]` runs
`gunicorn -c gunicorn.conf.py wsgi:app` after checking every setting.

gunicorn reads WEB_CONCURRENCY as a number when it is imported, before gunicorn.conf.py
runs, so `WEB_CONCURRENCY=abc gunicorn ...` ends in a traceback. Here the check comes
first: a bad value is one line and exit status 1. gunicorn then runs in this process
(systemd's Type=notify sees the same PID).
"""
from __future__ import annotations

import sys

from chatcenter.config import PROJECT_ROOT, load_settings_or_exit


def main(argv: list[str] | None = None) -> None:
    load_settings_or_exit()
    from gunicorn.app.wsgiapp import run

    args = sys.argv[1:] if argv is None else argv
    sys.argv = ["gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py"), "--chdir", str(PROJECT_ROOT),
                *args, "wsgi:app"]
    run()


if __name__ == "__main__":
    main()
