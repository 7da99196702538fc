"""A stand-in for sentry.io that only counts what it is sent: for benchmarks.

sentry.io does its work on other machines. tests/sentry_receiver.py decodes envelopes for
tests, and even counting through http.server costs a millisecond or so of Python per
envelope on the benchmark's own cores: at traces 1.0 that was a tenth of the CPU being
measured. This sink runs in a process of its own, reads each request's head and body off
a kept-alive connection, and answers 200; `GET /count` answers how many envelopes it got.

    sink = SentrySink().start(); sink.dsn; sink.count(); sink.stop()
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: list[int]) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /count"):
                body = str(counter[0]).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                counter[0] += b"/envelope/" in head.split(b"\r\n", 1)[0]
                writer.write(_OK)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main() -> None:
    counter = [0]
    server = await asyncio.start_server(lambda r, w: _serve(r, w, counter), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


class SentrySink:
    def __init__(self):
        self._process: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> "SentrySink":
        self._process = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
        self.port = int(self._process.stdout.readline())
        return self

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.port}/1"

    def count(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as answer:
            return int(answer.read())

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(_main())
