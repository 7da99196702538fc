"""A stored attachment as an HTTP answer, the same for the pages and the API: the stored
(checked) content type, never sniffed, inline only for images, cached privately for good
(a file behind a URL never changes)."""
from __future__ import annotations

from flask import Response

from chatcenter.attachments import CACHE_FOREVER, disposition, served_file
from chatcenter.web.reads import request_reader


def file_answer(chat_id: int, download_id: str) -> Response:
    """The file, or NotFound (404) / NotReady (409, with its state) for the error handlers."""
    with request_reader() as session:
        attachment, content = served_file(session, chat_id, download_id)
        headers = {"Content-Disposition": disposition(attachment), "X-Content-Type-Options": "nosniff",
                   "Cache-Control": CACHE_FOREVER}
        content_type = attachment.content_type
    return Response(content, content_type=content_type, headers=headers)
