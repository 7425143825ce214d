"""Files attached to sessions: receiving an upload, checking its type, storing and deleting it.

Where stored files live is a `Storage` (services/storage/): the upload folder (the default) or
an S3-compatible bucket. Uploads are received on this host's disk either way.

An upload is written once, in chunks, to a staging file in the upload folder
(`.upload-<32 hex>.part`, never held in memory), hashed (sha256) and counted as it goes: a web
request streams its file part straight there (`StagingFile`, the request's stream factory in
app.py), any other stream is copied there. It is refused past the size limit. Its type is
decided from its content alone (magic bytes through `filetype`, plus what `filetype` cannot
tell: the entries of a ZIP for DOCX/XLSX, the streams of an OLE2 file for DOC/XLS); the name
and the browser's claim play no part. The stored file has a random name (32 hex digits); the
user's name is only ever data, cleaned for display.

File and row stay in step. Adding: the staging file is stored (renamed into place, the same
file: no copy; or uploaded to the bucket), then the row is inserted and flushed; any error
removes the staging file, and a transaction that ends without committing (a failed commit, a
rollback) removes the stored file. Deleting: the row is deleted and flushed; the stored file
is removed only once the transaction has committed (a rollback leaves both). Both rely on
the hooks at the end of this module, on SQLAlchemy's session events, so they hold for every
caller (a page or a command).

A process killed mid-way runs no hook: it can leave a staging file, or a stored file whose
row was never committed. `sweep_staging_files` and `sweep_unreferenced_files` remove those
once they are an hour old (`flask sweep-uploads`; staging files, and the local folder's stored
files, also at start-up); a younger file may be an upload still under way in another
process, and is never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import secrets
import struct
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import filetype
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from models import Attachment, Occurrence, User, db
from services.common.errors import DomainError, NotAllowed, ValidationError
from services.permissions import can_delete_attachment, can_upload
from services.storage import STORED_NAME, Storage, StorageError
from services.tracking import events

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# filetype looks at the first 8 KiB; so do we.
HEAD_SIZE = 8192
ORIGINAL_NAME_MAX = 255
DESCRIPTION_MAX = 500

# Names in the upload folder: stored files are 32 hex digits; an upload being written is a
# hidden staging file. `.<32 hex>.part` is how staging files were named before.
STAGING_PREFIX = ".upload-"
STAGING_SUFFIX = ".part"
_STAGING_NAME = re.compile(r"\.(?:upload-)?[0-9a-f]{32}\.part")
# A leftover is only swept this long after its last write: anything younger may be an upload
# still being written, or waiting for its commit, in another process.
SWEEP_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class FileKind:
    content_type: str
    label: str
    # Extensions a name of this kind may end with; the first is added to a name without one.
    extensions: tuple[str, ...]


PDF = FileKind("application/pdf", "PDF", ("pdf",))
MP4 = FileKind("video/mp4", "MP4 video", ("mp4", "m4v"))
# filetype cannot tell audio-only WebM from video (same container and doctype): one kind.
WEBM = FileKind("video/webm", "WebM video or audio", ("webm", "weba"))
QUICKTIME = FileKind("video/quicktime", "QuickTime video", ("mov", "qt"))
MPEG = FileKind("video/mpeg", "MPEG video", ("mpg", "mpeg"))
MP3 = FileKind("audio/mpeg", "MP3 audio", ("mp3",))
WAV = FileKind("audio/wav", "WAV audio", ("wav",))
DOCX = FileKind(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "Word document (DOCX)",
    ("docx",),
)
XLSX = FileKind(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "Excel workbook (XLSX)",
    ("xlsx",),
)
DOC = FileKind("application/msword", "Word 97-2003 document (DOC)", ("doc",))
XLS = FileKind("application/vnd.ms-excel", "Excel 97-2003 workbook (XLS)", ("xls",))
PNG = FileKind("image/png", "PNG image", ("png",))
JPEG = FileKind("image/jpeg", "JPEG image", ("jpg", "jpeg"))
GIF = FileKind("image/gif", "GIF image", ("gif",))
WEBP = FileKind("image/webp", "WebP image", ("webp",))

# filetype's MIME names of the kinds it recognises by itself.
_BY_FILETYPE_MIME = {
    "application/pdf": PDF,
    "video/mp4": MP4,
    "video/webm": WEBM,
    "video/quicktime": QUICKTIME,
    "video/mpeg": MPEG,
    "audio/mpeg": MP3,
    "audio/x-wav": WAV,
    "image/png": PNG,
    "image/jpeg": JPEG,
    "image/gif": GIF,
    "image/webp": WEBP,
}
ALLOWED_KINDS = (
    PDF,
    MP4,
    WEBM,
    QUICKTIME,
    MPEG,
    MP3,
    WAV,
    DOCX,
    XLSX,
    DOC,
    XLS,
    PNG,
    JPEG,
    GIF,
    WEBP,
)
KIND_BY_CONTENT_TYPE = {kind.content_type: kind for kind in ALLOWED_KINDS}
ALLOWED_TEXT = (
    "PDF, video (MP4, WebM, QuickTime, MPEG), audio (MP3, WAV, WebM), documents (DOCX, XLSX, "
    "DOC, XLS) and images (PNG, JPEG, GIF, WebP)"
)

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class FileTooLarge(ValidationError):
    """The upload is over the size limit (the page answers 413)."""

    def __init__(self, max_bytes: int):
        super().__init__(f"The file is larger than {format_limit(max_bytes)}.", field="file")


class StagingFile:
    """An upload being written to its own new staging file in `upload_folder`, counted and
    hashed as it is written, so that checking it takes no second pass and storing it is a
    rename. It is written once from start to end, then read (Werkzeug seeks to the start
    when the part is complete). Closing it removes the staging file unless it was stored
    (renamed away) first, or `remove=False` hands it on."""

    def __init__(self, upload_folder: Path):
        upload_folder.mkdir(parents=True, exist_ok=True)
        self.path = upload_folder / f"{STAGING_PREFIX}{secrets.token_hex(16)}{STAGING_SUFFIX}"
        # O_EXCL: never follow or reuse anything already at that path.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "w+b")
        self.size = 0
        self.head = b""
        self._digest = hashlib.sha256()
        self._written = False

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> int:
        if self._written:
            raise io.UnsupportedOperation("a staging file is written once, from start to end")
        self._file.write(data)
        self.size += len(data)
        if len(self.head) < HEAD_SIZE:
            self.head += bytes(data[: HEAD_SIZE - len(self.head)])
        self._digest.update(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._written = True
        return self._file.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        self._written = True
        return self._file.read(size)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return not self._written

    def seekable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._file.closed

    def close(self, *, remove: bool = True) -> None:
        self._file.close()
        if remove:
            self.discard()

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> StagingFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@dataclass
class ReceivedFile:
    """An upload in its staging file in the upload folder, checked, not yet stored."""

    temp_path: Path
    size_bytes: int
    sha256: str
    kind: FileKind

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.temp_path.unlink()


def format_limit(max_bytes: int) -> str:
    return f"{max_bytes / (1024 * 1024):g} MB"


def format_size(size: int) -> str:
    """'812 bytes', '14.2 KB', '3.5 MB' (binary units, as the limit is counted)."""
    if size < 1024:
        return f"{size} bytes" if size != 1 else "1 byte"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


# --- Names --------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def clean_original_name(name: str | None, kind: FileKind) -> str:
    """The user's file name made safe to show and to offer as a download name: only its last
    path component, no control or bidirectional-override characters, at most 255 characters,
    and ending with an extension of its real type (`report.pdf.exe` holding a PDF becomes
    `report.pdf.exe.pdf`, so the saved download opens as what it is)."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    # Cc: control (NUL, CR, LF...), Cf: format (right-to-left override...), Zl/Zp separators.
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = _SPACES.sub(" ", name).strip().strip(".").strip()
    stem, dot, extension = name.rpartition(".")
    if not dot or extension.lower() not in kind.extensions:
        stem, extension = name, kind.extensions[0]
    stem = stem or "file"
    room = ORIGINAL_NAME_MAX - len(extension) - 1
    return f"{stem[:room].rstrip()}.{extension}"


def clean_description(text: str | None) -> str:
    """One line of text: line breaks and runs of spaces become one space, other control and
    bidirectional-override characters go."""
    text = _SPACES.sub(" ", text or "")
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    text = text.strip()
    if len(text) > DESCRIPTION_MAX:
        raise ValidationError(
            f"Keep the description under {DESCRIPTION_MAX} characters.", field="description"
        )
    return text


# --- Type from content --------------------------------------------------------------------------


def _zip_kind(path: Path) -> FileKind | None:
    """DOCX or XLSX: a ZIP with the Office parts. Only the central directory is read (names),
    nothing is decompressed, so a ZIP bomb costs nothing here."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


_FREE_SECTOR = 0xFFFFFFFA  # this and above: special markers (end of chain, free, FAT...)


def _ole2_stream_names(path: Path, max_directory_sectors: int = 256) -> set[str]:
    """The names in an OLE2 (Compound File) directory: Word 97-2003 files hold a
    `WordDocument` stream, Excel ones `Workbook` (or `Book` for Excel 5). Follows the
    directory's sector chain through the FAT (its sectors listed in the header's DIFAT)."""
    names: set[str] = set()
    with path.open("rb") as handle:
        header = handle.read(512)
        if len(header) < 512 or header[:8] != _OLE2_MAGIC:
            return names
        shift = struct.unpack_from("<H", header, 0x1E)[0]
        if shift not in (9, 12):
            return names
        size = 1 << shift
        first_directory = struct.unpack_from("<I", header, 0x30)[0]
        difat = [
            sector for sector in struct.unpack_from("<109I", header, 0x4C) if sector < _FREE_SECTOR
        ]

        def read_sector(number: int) -> bytes:
            handle.seek((number + 1) * size)
            return handle.read(size)

        def next_sector(number: int) -> int:
            per_fat_sector = size // 4
            index = number // per_fat_sector
            if index >= len(difat):
                return _FREE_SECTOR
            fat = read_sector(difat[index])
            offset = (number % per_fat_sector) * 4
            if offset + 4 > len(fat):
                return _FREE_SECTOR
            return struct.unpack_from("<I", fat, offset)[0]

        sector, seen = first_directory, 0
        while sector < _FREE_SECTOR and seen < max_directory_sectors:
            data = read_sector(sector)
            for offset in range(0, len(data) - 127, 128):
                length = struct.unpack_from("<H", data, offset + 0x40)[0]
                if 2 <= length <= 64 and length % 2 == 0:
                    raw = data[offset : offset + length - 2]
                    names.add(raw.decode("utf-16-le", errors="replace"))
            sector = next_sector(sector)
            seen += 1
    return names


def detect_kind(head: bytes, path: Path) -> FileKind | None:
    """The allowed kind this content is, or None. `head` is the file's first bytes."""
    if head.startswith(_ZIP_MAGIC):
        return _zip_kind(path)
    if head.startswith(_OLE2_MAGIC):
        streams = _ole2_stream_names(path)
        if "WordDocument" in streams:
            return DOC
        if "Workbook" in streams or "Book" in streams:
            return XLS
        return None
    guess = filetype.guess(head)
    return _BY_FILETYPE_MIME.get(guess.mime) if guess is not None else None


# --- Receiving ----------------------------------------------------------------------------------


def receive_upload(stream: BinaryIO | None, *, upload_folder: Path, max_bytes: int) -> ReceivedFile:
    """Check an upload and keep it in a staging file in `upload_folder`: a request's file part
    that was streamed there already (a `StagingFile` of that folder) is checked in place;
    any other stream is copied there in chunks, hashed and counted as it goes. Its type is
    decided from its content. Refuses (ValidationError on `file`) a missing or empty file or
    a type not allowed, and (FileTooLarge) more than `max_bytes`; the staging file is gone
    whenever it refuses."""
    if stream is None:
        raise ValidationError("Choose a file to upload.", field="file")
    streamed = isinstance(stream, StagingFile) and _same_folder(stream.path.parent, upload_folder)
    staging = stream if streamed else StagingFile(upload_folder)
    try:
        if not streamed:
            while chunk := stream.read(CHUNK_SIZE):
                if staging.size + len(chunk) > max_bytes:
                    raise FileTooLarge(max_bytes)
                staging.write(chunk)
        # What Python still buffers must be in the file before its type is read from it.
        staging.flush()
        if staging.size > max_bytes:
            raise FileTooLarge(max_bytes)
        if staging.size == 0:
            raise ValidationError("The file is empty.", field="file")
        kind = detect_kind(staging.head, staging.path)
        if kind is None:
            raise ValidationError(
                f"This file's content is not a type you can attach. Allowed: {ALLOWED_TEXT}.",
                field="file",
            )
    except BaseException:
        if streamed:
            # The request closes its own stream; the file goes now.
            staging.discard()
        else:
            staging.close()
        raise
    if not streamed:
        staging.close(remove=False)
    return ReceivedFile(
        temp_path=staging.path, size_bytes=staging.size, sha256=staging.sha256, kind=kind
    )


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# --- Adding and deleting ------------------------------------------------------------------------


def stored_name(attachment: Attachment) -> str:
    """An attachment's stored name (random, 32 hex digits), checked to be nothing else: it is
    the file's name in the folder or its key in the bucket."""
    if not STORED_NAME.fullmatch(attachment.stored_name or ""):
        raise ValueError(f"unexpected stored name for attachment {attachment.id}")
    return attachment.stored_name


def add_attachment(
    *,
    occurrence: Occurrence,
    uploader: User,
    received: ReceivedFile,
    original_name: str | None,
    description: str | None,
    storage: Storage,
) -> Attachment:
    """Store a received upload as an attachment of `occurrence` (flush only): the file stored
    (see `Storage.store`), the row and a FILE_ADDED history entry. On any error here the
    staging file is removed; if the transaction ends without a commit, the hook below removes
    the stored file."""
    try:
        if not can_upload(uploader, occurrence):
            raise NotAllowed("Only the session's mentor or staff can add files.")
        cleaned_description = clean_description(description)
        name = clean_original_name(original_name, received.kind)
        if db.session.scalar(
            select(Attachment.id).where(
                Attachment.occurrence_id == occurrence.id,
                Attachment.sha256 == received.sha256,
                Attachment.original_name == name,
            )
        ):
            # A double-clicked Upload or a resubmitted form: the file is there once.
            raise ValidationError(f"{name} is already attached to this session.", field="file")
        attachment = Attachment(
            occurrence_id=occurrence.id,
            uploader_id=uploader.id,
            original_name=name,
            stored_name=secrets.token_hex(16),
            content_type=received.kind.content_type,
            size_bytes=received.size_bytes,
            sha256=received.sha256,
            description=cleaned_description,
        )
        # Stored before the row is written, so that a long upload to a bucket holds no row
        # lock; from then on a transaction that does not commit takes the stored file with
        # it (a store that failed left nothing to take).
        name = stored_name(attachment)
        storage.store(name, received.temp_path, content_type=attachment.content_type)
        _pending(db.session(), _REMOVE_UNLESS_COMMITTED).append((storage, name))
        db.session.add(attachment)
        db.session.flush()
        events.record_event(
            occurrence.id,
            events.FILE_ADDED,
            actor=uploader,
            summary=f"{attachment.original_name} ({received.kind.label})",
        )
    except BaseException:
        received.discard()
        raise
    return attachment


def attach_upload(
    *,
    occurrence: Occurrence,
    uploader: User,
    stream: BinaryIO | None,
    original_name: str | None,
    description: str | None,
    storage: Storage,
    max_bytes: int,
) -> Attachment:
    """Receive an upload (`receive_upload`) and store it as an attachment (`add_attachment`):
    one call for a page. Who may is checked before the file is checked or stored."""
    if not can_upload(uploader, occurrence):
        raise NotAllowed("Only the session's mentor or staff can add files.")
    received = receive_upload(stream, upload_folder=storage.staging_folder, max_bytes=max_bytes)
    return add_attachment(
        occurrence=occurrence,
        uploader=uploader,
        received=received,
        original_name=original_name,
        description=description,
        storage=storage,
    )


def delete_attachment(*, attachment: Attachment, actor: User, storage: Storage) -> None:
    """Delete an attachment (flush only) with a FILE_DELETED history entry; its stored file
    is removed once the transaction commits (a rollback keeps both row and file)."""
    occurrence = db.session.get(Occurrence, attachment.occurrence_id)
    if not can_delete_attachment(actor, attachment, occurrence):
        raise NotAllowed(
            "Only the person who added this file, the session's mentor or staff can delete it."
        )
    name = stored_name(attachment)
    events.record_event(
        attachment.occurrence_id, events.FILE_DELETED, actor=actor, summary=attachment.original_name
    )
    db.session.delete(attachment)
    db.session.flush()
    _pending(db.session(), _UNLINK_AFTER_COMMIT).append((storage, name))


def attachments_of(occurrence_id: int) -> list[Attachment]:
    """A session's files, newest first."""
    return list(
        db.session.scalars(
            select(Attachment)
            .where(Attachment.occurrence_id == occurrence_id)
            .order_by(Attachment.created_at.desc(), Attachment.id.desc())
        )
    )


# --- Sweeping what killed processes left -------------------------------------------------------


@dataclass(frozen=True)
class SweptFile:
    """A file the sweep removed (or, in a dry run, would remove)."""

    name: str
    reason: str
    size_bytes: int
    modified: datetime


UNFINISHED_UPLOAD = "unfinished upload"
UNREFERENCED_FILE = "stored file no attachment refers to"


def _old_files(
    upload_folder: Path, pattern: re.Pattern, now: datetime, reason: str
) -> list[SweptFile]:
    """The regular files in `upload_folder` named like `pattern` (staging files), last written
    more than SWEEP_AFTER before `now`, by name."""
    if not upload_folder.is_dir():
        return []
    cutoff = (now - SWEEP_AFTER).timestamp()
    found = []
    with os.scandir(upload_folder) as entries:
        for entry in entries:
            if not pattern.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed meanwhile (stored, discarded, or another sweep)
            if stat.st_mtime < cutoff:
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                found.append(SweptFile(entry.name, reason, stat.st_size, modified))
    return sorted(found, key=lambda f: f.name)


def _remove(upload_folder: Path, files: Iterable[SweptFile], dry_run: bool) -> list[SweptFile]:
    removed = []
    for swept in files:
        if not dry_run:
            try:
                (upload_folder / swept.name).unlink()
            except FileNotFoundError:
                continue  # another process swept it first
            except OSError:
                log.exception("could not remove %s from the upload folder", swept.name)
                continue
        removed.append(swept)
    return removed


def sweep_staging_files(
    upload_folder: Path, *, now: datetime, dry_run: bool = False
) -> list[SweptFile]:
    """Remove the staging files of uploads that never finished (a process killed while
    receiving one), last written more than an hour before `now`. Needs no database."""
    stale = _old_files(upload_folder, _STAGING_NAME, now, UNFINISHED_UPLOAD)
    return _remove(upload_folder, stale, dry_run)


# Names per query: well under every database's limit on bound parameters.
_NAMES_PER_QUERY = 500


class UnmatchedUploadFolder(DomainError):
    """No stored file in the upload folder has a row in this database."""


def sweep_unreferenced_files(
    storage: Storage, *, now: datetime, dry_run: bool = False, even_if_none_match: bool = False
) -> list[SweptFile]:
    """Remove the stored files (32 hex digits) that no attachment row refers to, last written
    more than an hour before `now`: a process killed between storing an upload and
    committing its row. Reads the attachment table (in the current session).

    When not one of them has a row, the storage and the database most likely do not belong
    together (a wrong DATABASE_URL, a new empty database): it removes nothing and raises
    UnmatchedUploadFolder, unless `even_if_none_match`."""
    cutoff = now - SWEEP_AFTER
    old = sorted(
        (
            SweptFile(item.name, UNREFERENCED_FILE, item.size_bytes, item.modified)
            for item in storage.stored_objects()
            if item.modified < cutoff
        ),
        key=lambda f: f.name,
    )
    referenced: set[str] = set()
    for start in range(0, len(old), _NAMES_PER_QUERY):
        names = [f.name for f in old[start : start + _NAMES_PER_QUERY]]
        referenced.update(
            db.session.scalars(
                select(Attachment.stored_name).where(Attachment.stored_name.in_(names))
            )
        )
    if old and not referenced and not even_if_none_match:
        raise UnmatchedUploadFolder(
            f"None of the {len(old)} stored files in {storage.description} has an attachment in "
            "this database, so none was removed: check that DATABASE_URL and "
            f"{storage.setting} belong together."
        )
    removed = []
    for swept in old:
        if swept.name in referenced:
            continue
        if not dry_run:
            try:
                storage.remove(swept.name)
            except (OSError, StorageError):
                log.exception("could not remove stored file %s", swept.name)
                continue
        removed.append(swept)
    return removed


# --- Keeping files and rows in step with the transaction -----------------------------------------

_REMOVE_UNLESS_COMMITTED = "attachments.remove_unless_committed"
_UNLINK_AFTER_COMMIT = "attachments.unlink_after_commit"


def _pending(session: Session, key: str) -> list[tuple[Storage, str]]:
    return session.info.setdefault(key, [])


def _unlink_all(files: list[tuple[Storage, str]]) -> None:
    for storage, name in files:
        try:
            storage.remove(name)
        except (OSError, StorageError):
            # The row is gone; a file left behind is only space (the sweep finds it), logged.
            log.exception("could not remove attachment file %s from %s", name, storage.description)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_REMOVE_UNLESS_COMMITTED, None)
    _unlink_all(session.info.pop(_UNLINK_AFTER_COMMIT, []))


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    # Only the outermost transaction decides (a savepoint's end is not the end). After a
    # commit `_after_commit` has already emptied both lists; otherwise the transaction was
    # rolled back or closed: new files go, and deleted rows came back, so their files stay.
    if transaction.parent is not None:
        return
    _unlink_all(session.info.pop(_REMOVE_UNLESS_COMMITTED, []))
    session.info.pop(_UNLINK_AFTER_COMMIT, None)
