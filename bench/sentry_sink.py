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


async def _main(host: str, port: int) -> None:
    counter = [0]

    def serve(reader, writer):
        return _serve(reader, writer, counter)

    try:
        server = await asyncio.start_server(serve, host, port)
    except OSError:  # port 80 needs root and a free port: any port will do
        server = await asyncio.start_server(serve, host, 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


class SentrySink:
    """On port 80 of `host` (any 127.x.y.z is this machine) when it can bind it, so the DSN
    names no port, as sentry.io's does: sentry-sdk recognises its own sends by looking for
    the DSN's host:port in the connection's host alone, so with a port in the DSN every
    envelope it sends is also recorded as an outgoing HTTP span and breadcrumb, a cost a
    production DSN does not carry (`port_in_dsn` says which it got)."""

    def __init__(self, host: str = "127.0.0.1"):
        self._process: subprocess.Popen | None = None
        self.host = host
        self.port = 0

    def start(self) -> "SentrySink":
        self._process = subprocess.Popen([sys.executable, __file__, self.host], stdout=subprocess.PIPE, text=True)
        self.port = int(self._process.stdout.readline())
        return self

    @property
    def port_in_dsn(self) -> bool:
        return self.port != 80

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port_in_dsn else self.host

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@{self.address}/1"

    def count(self) -> int:
        with urllib.request.urlopen(f"http://{self.address}/count", timeout=5) as answer:
            return int(answer.read())

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1", 80))
