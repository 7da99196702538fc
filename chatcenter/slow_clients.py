"""gunicorn's threaded worker, made to hold no thread for a slow or idle client.

nginx in front (deploy/nginx) is the real defence: it buffers whole requests. Without it,
gunicorn's gthread worker hands a connection to a thread as soon as one byte arrives and
the thread then blocks until the request headers are complete: a few dozen clients that
send their headers a byte at a time take every thread, and health probes time out.

HeaderBufferingWorker reads a new request's headers without blocking: each time bytes
arrive it takes them and, until the blank line that ends the headers, gives the connection
back to the worker's poller (no thread held while waiting). Once complete, the bytes go to
gunicorn's parser and the request runs as usual. A request whose headers take longer
than HEADER_DEADLINE is dropped, and one silent for gunicorn's keep-alive is closed by
gunicorn itself. Request bodies are read by the thread as before (their size is capped
by MAX_CONTENT_LENGTH).
"""
from __future__ import annotations

import time

from gunicorn.workers import gthread

HEADER_DEADLINE = 10.0  # seconds from a request's first byte to the end of its headers
HEADER_BYTES_MAX = 64 * 1024  # past this gunicorn's own limits answer 431/400
_END_OF_HEADERS = b"\r\n\r\n"


class HeaderBufferingWorker(gthread.ThreadWorker):
    def handle(self, conn):
        if self._has_read_ahead(conn):  # the previous request's body read part of this one
            return super().handle(conn)
        ready = _gather_headers(conn)
        if ready is None:
            return gthread._DEFER  # back to the poller until more bytes arrive
        if ready is False:
            return False  # closed by the client, or too slow: close our end too
        conn.init()
        conn.parser.unreader.unread(ready)
        conn.data_ready = True
        return super().handle(conn)

    @staticmethod
    def _has_read_ahead(conn) -> bool:
        return conn.parser is not None and bool(conn.parser.unreader.buf.getvalue())


def _gather_headers(conn) -> bytes | None | bool:
    """The request's bytes once its headers are complete; None: not yet; False: give up."""
    started = getattr(conn, "header_started", None)
    buffered = getattr(conn, "header_bytes", b"")
    conn.sock.setblocking(False)
    try:
        while len(buffered) <= HEADER_BYTES_MAX:
            chunk = conn.sock.recv(8192)
            if not chunk:
                return False
            buffered += chunk
            if started is None:
                started = time.monotonic()
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        return False
    if _END_OF_HEADERS in buffered or len(buffered) > HEADER_BYTES_MAX:
        conn.header_started, conn.header_bytes = None, b""
        return buffered
    if started is not None and time.monotonic() - started > HEADER_DEADLINE:
        return False
    conn.header_started, conn.header_bytes = started, buffered
    return None
