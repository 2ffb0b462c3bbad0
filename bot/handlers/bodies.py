"""Reading a webhook's body without letting a sender make us hold more than we allow."""

from __future__ import annotations

from fastapi import Request


async def body_within(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is longer than `limit` bytes. Content-Length is only a
    first check: a chunked upload declares none, so the bytes are counted as they come."""
    declared = request.headers.get("content-length") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
