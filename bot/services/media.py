"""Evidence files: stored once by SHA-256 under MEDIA_DIR, checked against the limits,
and shown or shared only as a copy without metadata (EXIF, GPS).

Channel adapters download a file and `store` it; the engine then sees only the content
hash in `Media.ref`. The original is kept for authorised officers while a report names it
as evidence. Every other file (a KTP photo sent at the NIK step, the files of a report
never sent) is deleted by `purge_unreferenced` once it is older than `MEDIA_GRACE` and no
report draft in progress holds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import String, cast
from sqlmodel import col, select

from storage.db import Database
from storage.models import Conversation, ReportEvidence

MB = 1024 * 1024
# How long a stored file may wait for the step that takes it into a report draft (the
# draft then holds it); a crash or a busy database between the two is covered too.
MEDIA_GRACE = timedelta(hours=1)
_CONTENT_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class EvidencePolicy:
    max_files: int = 5
    max_bytes: int = 10 * MB
    allowed_types: frozenset[str] = frozenset(
        {
            "image/jpeg",
            "image/png",
            "image/webp",
            "application/pdf",
            "audio/ogg",
            "audio/mpeg",
            "audio/mp4",
            "audio/aac",
            "audio/amr",
            "video/mp4",
        }
    )

    def problem(self, mime_type: str | None, size: int | None, already: int) -> str | None:
        """Why a file cannot be added ('too_many', 'too_big', 'bad_type'), or None."""
        if already >= self.max_files:
            return "too_many"
        if size is not None and size > self.max_bytes:
            return "too_big"
        if (mime_type or "").split(";")[0].strip().lower() not in self.allowed_types:
            return "bad_type"
        return None


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
            raise ValueError("not a content hash")
        return self.root / sha256[:2] / sha256

    def store(self, content: bytes) -> str:
        """Write the bytes once (atomically) and return their SHA-256."""
        sha256 = hashlib.sha256(content).hexdigest()
        target = self.path(sha256)
        try:
            os.utime(target)  # sent again: its grace period starts again
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(f".{os.getpid()}.part")
            temporary.write_bytes(content)
            temporary.replace(target)
        return sha256

    def stored(self) -> list[str]:
        """The content hashes of every stored file (other files under the root, such as
        registry imports, are not the store's)."""
        if not self.root.is_dir():
            return []
        found: list[str] = []
        for folder in self.root.iterdir():
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            found.extend(
                entry.name
                for entry in folder.iterdir()
                if _CONTENT_HASH.match(entry.name) and entry.name[:2] == folder.name
            )
        return found

    def delete_if_older(self, sha256: str, before: datetime) -> bool:
        """Delete the file when it was last stored before `before`; True if deleted."""
        target = self.path(sha256)
        try:
            modified = datetime.fromtimestamp(target.stat().st_mtime, UTC)
            if modified >= before:
                return False
            target.unlink()
        except FileNotFoundError:
            return False  # another instance was quicker
        return True

    def exists(self, sha256: str) -> bool:
        try:
            return self.path(sha256).is_file()
        except ValueError:
            return False

    def original(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def shareable(self, sha256: str, mime_type: str) -> bytes:
        """The file as it may be shown: images re-encoded without EXIF/GPS metadata."""
        content = self.original(sha256)
        if not mime_type.startswith("image/"):
            return content
        try:
            with Image.open(io.BytesIO(content)) as opened:
                image_format = opened.format or "PNG"
                image = ImageOps.exif_transpose(opened)  # keep the picture upright
                clean = Image.new(image.mode, image.size)
                if image.mode == "P" and (palette := image.getpalette()) is not None:
                    clean.putpalette(palette)
                clean.paste(image)
                out = io.BytesIO()
                clean.save(out, format=image_format)
                return out.getvalue()
        except (UnidentifiedImageError, OSError):
            return b""  # not really an image: show nothing rather than leak metadata


async def referenced_media(db: Database, drafts_since: datetime) -> set[str]:
    """Files a report names as evidence, and files held by a conversation active since
    `drafts_since` (a report or a reply in progress: older drafts are dropped anyway)."""
    async with db.session() as session:
        evidence = set((await session.exec(select(ReportEvidence.sha256).distinct())).all())
        drafts = await session.exec(
            select(Conversation.data).where(
                col(Conversation.last_activity_at) >= drafts_since,
                cast(Conversation.data, String).like("%sha256%"),
            )
        )
        for data in drafts.all():
            evidence.update(_hashes_in(data))
    return evidence


def _hashes_in(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "sha256" and isinstance(item, str):
                yield item
            else:
                yield from _hashes_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _hashes_in(item)


async def purge_unreferenced(
    db: Database, store: MediaStore, now: datetime, drafts_since: datetime
) -> int:
    """Delete stored files that no report and no draft in progress refers to, once they
    are older than MEDIA_GRACE; returns how many went. Idempotent, and safe with several
    instances: a file stored again meanwhile is younger than the grace and stays."""
    keep = await referenced_media(db, drafts_since)
    before = now - MEDIA_GRACE

    def sweep() -> int:
        return sum(
            store.delete_if_older(sha256, before) for sha256 in store.stored() if sha256 not in keep
        )

    return await asyncio.to_thread(sweep)
