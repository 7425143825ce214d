"""Small but real files of every kind an attachment may be, built from bytes, plus streams
that produce a large upload without holding it in memory."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
        b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png() -> bytes:
    """A 1x1 white pixel."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    # SOI, a JFIF APP0 segment, EOI: enough for a type check.
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def gif() -> bytes:
    """The classic 1x1 transparent GIF."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
        b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def webp() -> bytes:
    # A lossless 1x1 VP8L bitstream.
    vp8l = b"\x2f\x00\x00\x00\x00\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
    chunk = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + struct.pack(">I", 0x200) + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


def mp4() -> bytes:
    return _ftyp(b"isom", b"isom", b"iso2", b"mp41") + struct.pack(">I", 8) + b"free"


def quicktime() -> bytes:
    return _ftyp(b"qt  ", b"qt  ") + struct.pack(">I", 8) + b"wide"


def webm() -> bytes:
    # EBML header with DocType "webm", then an empty Segment.
    doctype = b"\x42\x82\x84webm"
    header_body = b"\x42\x86\x81\x01" + doctype
    return (
        b"\x1a\x45\xdf\xa3"
        + bytes([0x80 | len(header_body)])
        + header_body
        + (b"\x18\x53\x80\x67\x80")
    )


def mpeg() -> bytes:
    # An MPEG-1 program stream pack header, then the end code.
    return b"\x00\x00\x01\xba\x21\x00\x01\x00\x01\x80\x01\x01" + b"\x00\x00\x01\xb9"


def mp3() -> bytes:
    # An ID3v2.3 tag with no frames, then one MPEG-1 Layer III frame header and silence.
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413


def wav() -> bytes:
    """A tenth of a second of 8 kHz 8-bit mono silence."""
    samples = b"\x80" * 800
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _zip(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return buffer.getvalue()


_CONTENT_TYPES = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def docx() -> bytes:
    return _zip(
        {
            "[Content_Types].xml": _CONTENT_TYPES,
            "_rels/.rels": "<Relationships/>",
            "word/document.xml": "<w:document><w:body><w:p/></w:body></w:document>",
        }
    )


def xlsx() -> bytes:
    return _zip(
        {
            "[Content_Types].xml": _CONTENT_TYPES,
            "_rels/.rels": "<Relationships/>",
            "xl/workbook.xml": "<workbook><sheets/></workbook>",
        }
    )


def plain_zip() -> bytes:
    return _zip({"notes.txt": "hello"})


def _ole2(stream_name: str) -> bytes:
    """A minimal Compound File: header, one directory sector (root + one stream), one FAT."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HH", header, 0x18, 0x3E, 3)  # minor, major version
    struct.pack_into("<HHH", header, 0x1C, 0xFFFE, 9, 6)  # byte order, sector shift, mini
    struct.pack_into("<I", header, 0x2C, 1)  # number of FAT sectors
    struct.pack_into("<I", header, 0x30, 0)  # first directory sector
    struct.pack_into("<I", header, 0x38, 4096)  # mini stream cutoff
    struct.pack_into("<II", header, 0x3C, 0xFFFFFFFE, 0)  # no mini FAT
    struct.pack_into("<II", header, 0x44, 0xFFFFFFFE, 0)  # no DIFAT sectors
    difat = [1] + [0xFFFFFFFF] * 108
    struct.pack_into("<109I", header, 0x4C, *difat)

    def entry(name: str, kind: int) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\x00").encode("utf-16-le")
        raw[: len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 0x40, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 0x44, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        struct.pack_into("<I", raw, 0x74, 0xFFFFFFFE)
        return bytes(raw)

    directory = entry("Root Entry", 5) + entry(stream_name, 2) + bytes(256)
    fat = struct.pack("<II", 0xFFFFFFFE, 0xFFFFFFFD) + b"\xff" * 504
    return bytes(header) + directory + fat


def doc() -> bytes:
    return _ole2("WordDocument")


def xls() -> bytes:
    return _ole2("Workbook")


def msi_like() -> bytes:
    """An OLE2 file that is neither Word nor Excel (an installer, an Outlook message...)."""
    return _ole2("SummaryInformation")


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100


def windows_exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100


# Every allowed kind: (sample, a name to upload it as, the stored content type).
ALLOWED_SAMPLES = {
    "pdf": (pdf, "slides.pdf", "application/pdf"),
    "mp4": (mp4, "clip.mp4", "video/mp4"),
    "webm": (webm, "clip.webm", "video/webm"),
    "quicktime": (quicktime, "clip.mov", "video/quicktime"),
    "mpeg": (mpeg, "clip.mpg", "video/mpeg"),
    "mp3": (mp3, "talk.mp3", "audio/mpeg"),
    "wav": (wav, "talk.wav", "audio/wav"),
    "docx": (
        docx,
        "essay.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": (
        xlsx,
        "marks.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "doc": (doc, "essay.doc", "application/msword"),
    "xls": (xls, "marks.xls", "application/vnd.ms-excel"),
    "png": (png, "board.png", "image/png"),
    "jpeg": (jpeg, "board.jpg", "image/jpeg"),
    "gif": (gif, "board.gif", "image/gif"),
    "webp": (webp, "board.webp", "image/webp"),
}


class PatternStream(io.RawIOBase):
    """`size` bytes starting with `head`, produced on demand (never held in memory)."""

    def __init__(self, size: int, head: bytes = b""):
        self.size = size
        self.head = head
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.size - self.position
        if left <= 0:
            return 0
        n = min(len(buffer), left)
        chunk = bytearray(n)
        if self.position < len(self.head):
            part = self.head[self.position : self.position + n]
            chunk[: len(part)] = part
        buffer[:n] = chunk
        self.position += n
        return n


class ConcatStream(io.RawIOBase):
    """Several byte strings and streams read one after another (a multipart body)."""

    def __init__(self, *parts):
        self.parts = [io.BytesIO(p) if isinstance(p, bytes) else p for p in parts]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self.parts:
            n = self.parts[0].readinto(buffer)
            if n:
                return n
            self.parts.pop(0)
        return 0


def multipart_stream(
    fields: dict[str, str], file_field: str, filename: str, payload: io.RawIOBase, boundary: str
) -> ConcatStream:
    """A multipart/form-data body whose file part is read from `payload` as it is sent."""
    head = b""
    for name, value in fields.items():
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return ConcatStream(head, payload, tail)
