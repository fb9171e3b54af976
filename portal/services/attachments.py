"""Evidence files: recognised by their content, size-checked, stripped of metadata, stored.

Files live outside ``static/`` under random names, so they are never served by path and a
reporter's file name never touches the file system.
"""

import hashlib
import io
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.extensions import db
from portal.services.errors import AttachmentRejected

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
PDF = "application/pdf"
TEXT = "text/plain"

ACCEPTED_TYPES = (PNG, JPEG, WEBP, PDF, TEXT)

# The limits the issue promises reporters, and that the page text states.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
# A small, highly compressed PNG can claim billions of pixels; decoding one costs memory in
# proportion. 40 megapixels covers phone photos and any screenshot.
MAX_IMAGE_PIXELS = 40_000_000
_PILLOW_FORMATS = {PNG: "PNG", JPEG: "JPEG", WEBP: "WEBP"}
_CHUNK = 64 * 1024
# Control characters that never appear in a plain-text document (tab, newlines and form feed
# do); their presence means the file is binary whatever its name says.
_BINARY_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}


@dataclass(frozen=True)
class StoredFile:
    storage_name: str
    original_name: str
    content_type: str
    size_bytes: int
    sha256: str


def detect_content_type(data: bytes) -> str | None:
    """The accepted type that ``data`` really is, judged by its content alone, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if _is_plain_text(data):
        return TEXT
    return None


def _is_plain_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(ch) in _BINARY_CONTROL for ch in text)


def clean_filename(name: str | None) -> str:
    """A display name safe to keep: no path, no control characters, at most 255 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:255] or "file"


def read_limited(stream: BinaryIO, max_bytes: int, filename: str) -> bytes:
    """Read at most ``max_bytes``; raise ``AttachmentRejected(TOO_LARGE)`` beyond that."""
    buffer = io.BytesIO()
    while chunk := stream.read(_CHUNK):
        buffer.write(chunk)
        if buffer.tell() > max_bytes:
            raise AttachmentRejected(AttachmentRejected.TOO_LARGE, filename)
    return buffer.getvalue()


def strip_image_metadata(data: bytes, content_type: str, filename: str) -> bytes:
    """Re-encode an image without EXIF, GPS, XMP or text chunks, keeping its orientation.

    Raises ``AttachmentRejected(UNREADABLE)`` for an image that cannot be decoded, or whose
    header claims more than ``MAX_IMAGE_PIXELS`` (checked before any pixel is decoded).
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise AttachmentRejected(AttachmentRejected.UNREADABLE, filename)
            image.load()
            clean = ImageOps.exif_transpose(image)  # a new image, orientation applied
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise AttachmentRejected(AttachmentRejected.UNREADABLE, filename) from error
    # What Pillow read from the file (EXIF, XMP, text chunks, comments) must not be written back.
    clean.info = {}
    if content_type == JPEG and clean.mode not in ("RGB", "L", "CMYK"):
        clean = clean.convert("RGB")
    output = io.BytesIO()
    save_options = {"quality": 95} if content_type in (JPEG, WEBP) else {}
    clean.save(output, format=_PILLOW_FORMATS[content_type], **save_options)
    return output.getvalue()


def upload_dir() -> Path:
    """The folder evidence files are kept in: ``PORTAL_UPLOAD_DIR``, else the instance's."""
    configured = current_app.config["PORTAL_UPLOAD_DIR"]
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


def store_evidence(
    stream: BinaryIO, filename: str | None, upload_dir: Path, max_bytes: int = MAX_FILE_BYTES
) -> StoredFile:
    """Check one uploaded file and write it to ``upload_dir``.

    Raises :class:`AttachmentRejected` when the file is empty, larger than ``max_bytes``, not
    one of the accepted types (judged by content, not by name) or an image that cannot be read.
    """
    display_name = clean_filename(filename)
    data = read_limited(stream, max_bytes, display_name)
    if not data:
        raise AttachmentRejected(AttachmentRejected.EMPTY, display_name)
    content_type = detect_content_type(data)
    if content_type is None:
        raise AttachmentRejected(AttachmentRejected.WRONG_TYPE, display_name)
    if content_type in _PILLOW_FORMATS:
        data = strip_image_metadata(data, content_type, display_name)

    storage_name = secrets.token_hex(16)
    upload_dir.mkdir(parents=True, exist_ok=True)
    partial = upload_dir / f"{storage_name}.part"
    partial.write_bytes(data)
    partial.rename(upload_dir / storage_name)
    return StoredFile(
        storage_name=storage_name,
        original_name=display_name,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def store_uploads(
    uploads: Iterable[tuple[BinaryIO, str]], room: int, upload_dir: Path
) -> tuple[list[StoredFile], list[AttachmentRejected]]:
    """Store each (stream, filename) that passes the checks, at most ``room`` of them.

    Returns the stored files and one rejection for each file refused, in the order given.
    The files are removed again if the current database transaction rolls back.
    """
    stored: list[StoredFile] = []
    rejected: list[AttachmentRejected] = []
    for stream, filename in uploads:
        if len(stored) >= room:
            rejected.append(AttachmentRejected(AttachmentRejected.TOO_MANY, filename))
            continue
        try:
            stored.append(store_evidence(stream, filename, upload_dir))
        except AttachmentRejected as rejection:
            rejected.append(rejection)
            continue
        _pending(db.session, "written").append(upload_dir / stored[-1].storage_name)
    return stored, rejected


def delete_when_committed(upload_dir: Path, storage_name: str) -> None:
    """Remove a stored file once the transaction that deletes its row has committed."""
    _pending(db.session, "deleted").append(upload_dir / storage_name)


# Files follow the transaction they belong to: written files go again if it rolls back, files
# whose rows were deleted go only once it commits. The lists live in the session's ``info``.


def _pending(session, kind: str) -> list[Path]:
    return session.info.setdefault(f"evidence_files_{kind}", [])


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    paths.clear()


def _after_commit(session) -> None:
    _pending(session, "written").clear()
    _unlink_all(_pending(session, "deleted"))


def _after_rollback(session, _previous_transaction=None) -> None:
    _pending(session, "deleted").clear()
    _unlink_all(_pending(session, "written"))


def register_file_lifecycle(scoped_session) -> None:
    if sa.event.contains(scoped_session, "after_commit", _after_commit):
        return  # one set of listeners for the whole process, however many apps it builds
    sa.event.listen(scoped_session, "after_commit", _after_commit)
    # "soft": every rollback, also one before any statement ran (files may still be written).
    sa.event.listen(scoped_session, "after_soft_rollback", _after_rollback)
