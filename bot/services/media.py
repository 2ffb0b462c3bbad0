"""Evidence files: stored once by SHA-256 under MEDIA_DIR, checked against the limits,
and shown or shared only as a copy without metadata (EXIF, GPS).

Channel adapters download a file and `store` it; the engine then sees only the content
hash in `Media.ref`. The original is kept for authorised officers.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MB = 1024 * 1024


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
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(f".{os.getpid()}.part")
            temporary.write_bytes(content)
            temporary.replace(target)
        return sha256

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
