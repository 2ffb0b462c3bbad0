"""Evidence files: stored once by content hash; shown only without metadata."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from bot.services.media import MB, EvidencePolicy, MediaStore


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "KameraMerek"  # Make
    exif[0x8825] = {1: "S", 2: (7.0, 21.0, 36.0), 3: "E", 4: (109.0, 54.0, 4.0)}  # GPS
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_files_are_stored_once_by_content_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    first = store.store(b"bukti")
    assert store.store(b"bukti") == first
    assert store.exists(first) and store.original(first) == b"bukti"
    assert len(list(tmp_path.rglob("*"))) == 2  # one folder, one file
    assert not store.exists("../../etc/passwd")
    with pytest.raises(ValueError, match="content hash"):
        store.path("../x")


def test_shared_copies_of_photos_carry_no_exif_or_gps(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    original = _jpeg_with_gps()
    sha = store.store(original)
    with Image.open(io.BytesIO(store.original(sha))) as kept:
        assert kept.getexif().get(0x010F) == "KameraMerek"  # officers keep the original
    shared = store.shareable(sha, "image/jpeg")
    with Image.open(io.BytesIO(shared)) as clean:
        assert dict(clean.getexif()) == {}
        assert clean.size == (40, 30)
    assert b"KameraMerek" not in shared
    assert store.shareable(store.store(b"%PDF-1.4 ..."), "application/pdf") == b"%PDF-1.4 ..."
    assert store.shareable(store.store(b"not an image"), "image/png") == b""


def test_evidence_policy() -> None:
    policy = EvidencePolicy(max_files=2, max_bytes=MB)
    assert policy.problem("image/jpeg", 1000, 0) is None
    assert policy.problem("IMAGE/JPEG; charset=x", 1000, 0) is None
    assert policy.problem("image/jpeg", 1000, 2) == "too_many"
    assert policy.problem("image/jpeg", MB + 1, 0) == "too_big"
    assert policy.problem("application/zip", 10, 0) == "bad_type"
    assert policy.problem(None, 10, 0) == "bad_type"
