"""Evidence files: recognised by content, size-checked, stripped of metadata, stored safely."""

import hashlib
import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from portal.services.attachments import (
    clean_filename,
    detect_content_type,
    store_evidence,
)
from portal.services.errors import AttachmentRejected

MAX_BYTES = 10 * 1024 * 1024
RED, BLUE = (255, 0, 0), (0, 0, 255)
HOME = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (51.0, 30.0, 12.5),
    ExifTags.GPS.GPSLongitudeRef: "W",
    ExifTags.GPS.GPSLongitude: (0.0, 7.0, 39.0),
}


def image_bytes(image_format: str, **save_options) -> bytes:
    image = Image.new("RGB", (40, 20), RED)
    image.paste(BLUE, (20, 0, 40, 20))  # left half red, right half blue
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **save_options)
    return buffer.getvalue()


def camera_exif(orientation: int = 1) -> Image.Exif:
    """What a phone writes into a photo: its make, how it was held, and where it was."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = HOME
    return exif


def stored_image(upload_dir, stored) -> Image.Image:
    image = Image.open(upload_dir / stored.storage_name)
    image.load()
    return image


def is_close(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    data = bytearray(image_bytes("PNG"))
    # The IHDR chunk follows the 8-byte signature: length, type, width, height, ..., CRC.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# -- recognising a file by its content ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("WEBP"), "image/webp"),
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", "application/pdf"),
        (b"The assistant said:\r\n\tmix bleach and ammonia.\n", "text/plain"),
        ("قال المساعد إن الدواء آمن للأطفال.\n".encode(), "text/plain"),
        ("Le modèle a répondu « oui ».".encode(), "text/plain"),
    ],
    ids=["PNG", "JPEG", "WebP", "PDF", "English text", "Arabic text", "French text"],
)
def test_accepted_files_are_recognised_by_their_content(data, content_type):
    assert detect_content_type(data) == content_type


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40,
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48,
        b"an innocent looking line\x00with a NUL byte in it\n",
    ],
    ids=["binary data", "ZIP archive", "Windows executable", "text with NUL bytes"],
)
def test_anything_else_is_not_recognised(data):
    assert detect_content_type(data) is None


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("screenshot.png", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"),
        ("notes.txt", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40),
    ],
    ids=["executable named .png", "ZIP named .txt"],
)
def test_a_file_whose_name_lies_about_its_type_is_refused_and_not_written(tmp_path, name, data):
    with pytest.raises(AttachmentRejected) as rejected:
        store_evidence(io.BytesIO(data), name, tmp_path, MAX_BYTES)

    assert (rejected.value.reason, rejected.value.filename) == (AttachmentRejected.WRONG_TYPE, name)
    assert list(tmp_path.iterdir()) == []


# -- storing --------------------------------------------------------------------------------------


def test_a_file_is_stored_in_the_upload_folder_under_a_random_name(tmp_path):
    upload_dir = tmp_path / "uploads"
    text = b"What the assistant told me, copied from the chat.\n"

    first = store_evidence(io.BytesIO(text), "chat.txt", upload_dir, MAX_BYTES)
    second = store_evidence(io.BytesIO(text), "chat.txt", upload_dir, MAX_BYTES)

    assert sorted(path.name for path in upload_dir.iterdir()) == sorted(
        [first.storage_name, second.storage_name]
    )
    assert first.storage_name != second.storage_name
    assert "chat" not in first.storage_name
    assert first.original_name == "chat.txt"
    assert (upload_dir / first.storage_name).read_bytes() == text
    assert (first.content_type, first.size_bytes) == ("text/plain", len(text))
    assert first.sha256 == hashlib.sha256(text).hexdigest()


def test_a_pdf_is_stored_exactly_as_it_was_sent(tmp_path):
    pdf = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"

    stored = store_evidence(io.BytesIO(pdf), "letter.pdf", tmp_path, MAX_BYTES)

    assert stored.content_type == "application/pdf"
    assert (tmp_path / stored.storage_name).read_bytes() == pdf


def test_a_file_name_in_arabic_is_kept_for_display(tmp_path):
    stored = store_evidence(io.BytesIO(image_bytes("PNG")), "لقطة.png", tmp_path, MAX_BYTES)

    assert stored.original_name == "لقطة.png"
    assert stored.storage_name.isascii()


def test_an_empty_file_is_refused_and_not_written(tmp_path):
    with pytest.raises(AttachmentRejected) as rejected:
        store_evidence(io.BytesIO(b""), "empty.png", tmp_path, MAX_BYTES)

    assert (rejected.value.reason, rejected.value.filename) == (
        AttachmentRejected.EMPTY,
        "empty.png",
    )
    assert list(tmp_path.iterdir()) == []


def test_a_file_over_the_limit_is_refused_without_writing_anything(tmp_path):
    upload_dir = tmp_path / "uploads"
    one_byte_too_many = b"a" * 1_001

    with pytest.raises(AttachmentRejected) as rejected:
        store_evidence(io.BytesIO(one_byte_too_many), "long.txt", upload_dir, max_bytes=1_000)

    assert (rejected.value.reason, rejected.value.filename) == (
        AttachmentRejected.TOO_LARGE,
        "long.txt",
    )
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []


def test_a_file_exactly_at_the_limit_is_accepted(tmp_path):
    stored = store_evidence(io.BytesIO(b"a" * 1_000), "full.txt", tmp_path, max_bytes=1_000)

    assert stored.size_bytes == 1_000


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n" + b"not really an image" * 10, png_claiming_size(30_000, 30_000)],
    ids=["corrupt PNG", "PNG claiming 900 megapixels"],
)
def test_an_image_that_cannot_be_safely_opened_is_refused_and_not_written(tmp_path, data):
    with pytest.raises(AttachmentRejected) as rejected:
        store_evidence(io.BytesIO(data), "photo.png", tmp_path, MAX_BYTES)

    assert rejected.value.reason == AttachmentRejected.UNREADABLE
    assert list(tmp_path.iterdir()) == []


# -- metadata -------------------------------------------------------------------------------------


def test_a_photo_loses_its_location_and_camera_details_but_stays_upright(tmp_path):
    # Orientation 6: the camera was turned, so the picture is shown turned 90° clockwise.
    photo = image_bytes(
        "JPEG",
        exif=camera_exif(orientation=6),
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">51.5034 N, 0.1276 W</x:xmpmeta>',
        comment=b"taken at home",
    )
    sent = Image.open(io.BytesIO(photo))
    assert sent.getexif().get_ifd(ExifTags.IFD.GPSInfo) == HOME  # the fixture does carry GPS

    stored = store_evidence(io.BytesIO(photo), "IMG_0001.jpg", tmp_path, MAX_BYTES)
    image = stored_image(tmp_path, stored)
    written = (tmp_path / stored.storage_name).read_bytes()

    assert stored.content_type == "image/jpeg"
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {}
    assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert b"51.5034" not in written
    assert b"taken at home" not in written
    assert b"PhoneMaker" not in written
    # Turned upright: the left (red) half is now on top, the right (blue) half below.
    assert image.size == (20, 40)
    assert is_close(image.getpixel((10, 5)), RED)
    assert is_close(image.getpixel((10, 35)), BLUE)


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_other_images_lose_their_exif_and_location_too(tmp_path, image_format):
    picture = image_bytes(image_format, exif=camera_exif())

    stored = store_evidence(io.BytesIO(picture), "picture", tmp_path, MAX_BYTES)
    image = stored_image(tmp_path, stored)

    assert image.format == image_format
    assert dict(image.getexif()) == {}
    assert b"PhoneMaker" not in (tmp_path / stored.storage_name).read_bytes()


def test_a_png_loses_its_text_chunks(tmp_path):
    text_chunks = PngImagePlugin.PngInfo()
    text_chunks.add_text("Author", "Jane Reporter")
    text_chunks.add_itxt("Comment", "Screenshot taken at 12 Acacia Avenue", zip=False)
    text_chunks.add_text("Software", "ChatClient 2.1", zip=True)
    screenshot = image_bytes("PNG", pnginfo=text_chunks)
    assert Image.open(io.BytesIO(screenshot)).text  # the fixture does carry text chunks

    stored = store_evidence(io.BytesIO(screenshot), "screenshot.png", tmp_path, MAX_BYTES)
    image = stored_image(tmp_path, stored)
    written = (tmp_path / stored.storage_name).read_bytes()

    assert image.text == {}
    for chunk_type in (b"tEXt", b"iTXt", b"zTXt"):
        assert chunk_type not in written
    assert b"Jane Reporter" not in written
    assert image.size == (40, 20)
    assert is_close(image.getpixel((5, 10)), RED, tolerance=0)


# -- file names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent_as", "kept_as"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\Ada\\Pictures\\screenshot.png", "screenshot.png"),
        ("/var/www/uploads/shell.php", "shell.php"),
        ("bad\x00name\r\n.png", "badname.png"),
        ("report\x1b[31m.txt", "report[31m.txt"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("لقطة.png", "لقطة.png"),
        ("Capture d’écran.png", "Capture d’écran.png"),  # noqa: RUF001 - a real apostrophe
        ("  spaced.png  ", "spaced.png"),
        ("", "file"),
        (None, "file"),
        ("../", "file"),
    ],
)
def test_a_file_name_is_cleaned_for_display(sent_as, kept_as):
    assert clean_filename(sent_as) == kept_as


def test_a_very_long_file_name_is_shortened():
    assert clean_filename("a" * 300 + ".png") == "a" * 255
