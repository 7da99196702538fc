"""Small real files for attachment tests: a PNG drawn here (zlib + struct), a one-page
PDF, and bytes that merely start like a JPEG (the type checks read the first bytes)."""
from __future__ import annotations

import struct
import zlib


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A valid RGB PNG: a gradient of `color`, so a browser can draw it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(channel * (x + 16) // (width + 16) for x in range(width) for channel in color)
                    for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def pdf(text: str = "Invoice") -> bytes:
    """A one-page PDF (with a correct cross-reference table)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def jpeg_like(size: int = 2048) -> bytes:
    """Starts as a JPEG does (FFD8FF, a JFIF header); enough for the type checks."""
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * size)[:size]


# A Windows program (its "MZ" header), whatever name it is given.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 240
