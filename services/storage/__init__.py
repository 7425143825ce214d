"""Where attachments' files are kept: one interface, two backends.

- `LocalStorage` (the default, STORAGE_BACKEND=local): the files in UPLOAD_FOLDER, each under
  its stored name (32 hex digits), as they always were.
- `S3Storage` (STORAGE_BACKEND=s3): objects in an S3-compatible bucket (S3_BUCKET, reached at
  S3_ENDPOINT_URL in S3_REGION, with boto3's own credentials: AWS_ACCESS_KEY_ID and
  AWS_SECRET_ACCESS_KEY), named S3_KEY_PREFIX + stored name. Several app hosts share them.

Either way an upload is first streamed to a staging file in UPLOAD_FOLDER, on this host's disk
(see services/tracking/attachments.py), and checked there; `store` then moves it into place:
a rename on the local disk, a (multipart) upload read from the file for S3. Nothing holds a
whole file in memory, in either direction.

`storage_for(app)` gives the app's storage (made once per setting values); `storage_reachable`
is the readiness check of the storage.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

BACKENDS = ("local", "s3")
STORED_NAME = re.compile(r"[0-9a-f]{32}")


class StorageError(Exception):
    """A storage failure, with the sentence an operator or a user should read."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class StorageUnavailable(StorageError):
    """The storage cannot be reached or refused the request (the page answers 503)."""


class MissingBucket(StorageUnavailable):
    """The bucket named by S3_BUCKET does not exist: a setting to fix, not an outage."""


class StoredFileMissing(StorageError):
    """No stored file under that name."""


class StorageSettingsError(ValueError):
    """The storage settings are missing or invalid (app.py raises ConfigurationError)."""


@dataclass(frozen=True)
class StoredObject:
    """A stored file as a listing sees it (for the sweep)."""

    name: str
    size_bytes: int
    modified: datetime


@dataclass
class StoredFile:
    """A stored file opened for download: its size and last change, and either its `path` on
    this host's disk (sent as a file) or a seekable `reader` that fetches what is read, in
    chunks, as it is read."""

    size_bytes: int
    modified: datetime | None
    path: Path | None = None
    reader: BinaryIO | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


class Storage(ABC):
    """Where stored files live. Names are stored names (32 hex digits), checked by callers."""

    #: This host's folder for uploads being received (staging files), on a disk with room
    #: for the largest upload.
    staging_folder: Path
    #: How an operator recognises it: the folder, or s3://bucket/prefix.
    description: str
    #: The setting that says where it is (named in messages).
    setting: str

    @abstractmethod
    def store(self, name: str, source: Path, *, content_type: str) -> None:
        """Keep the staging file `source` as `name`. The staging file is taken over: renamed
        into place, or uploaded and then removed. Raises StorageUnavailable (the staging file
        is left to the caller) when it cannot."""

    @abstractmethod
    def open(self, name: str) -> StoredFile:
        """The stored file for download; StoredFileMissing, or StorageUnavailable."""

    @abstractmethod
    def remove(self, name: str) -> None:
        """Remove a stored file; one already gone is not an error."""

    @abstractmethod
    def stored_objects(self) -> Iterator[StoredObject]:
        """Every stored file (named like a stored name), in no particular order."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageUnavailable (MissingBucket) unless files can be stored and read."""

    def download_url(self, name: str, *, disposition: str, content_type: str) -> str | None:
        """A short-lived URL the browser may fetch the file from directly (answered with
        these Content-Disposition and Content-Type), or None: the app sends the file itself
        (the default)."""
        return None


def storage_settings(config: Mapping) -> dict:
    """The storage settings read from the app's config, checked: StorageSettingsError names
    what is wrong. Also the key under which a built storage is kept (they are its inputs)."""
    backend = str(config.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend not in BACKENDS:
        raise StorageSettingsError(
            f"STORAGE_BACKEND={config.get('STORAGE_BACKEND')!r} is not a storage: give 'local' "
            "(files in UPLOAD_FOLDER, the default) or 's3' (an S3-compatible bucket)."
        )
    settings = {"backend": backend, "folder": str(config["UPLOAD_FOLDER"])}
    if backend == "local":
        return settings
    bucket = str(config.get("S3_BUCKET") or "").strip()
    if not bucket:
        raise StorageSettingsError(
            "STORAGE_BACKEND=s3 needs S3_BUCKET (FLASK_S3_BUCKET): the name of an existing bucket."
        )
    part_mb = config.get("S3_PART_MB", 8)
    if isinstance(part_mb, bool) or not isinstance(part_mb, int) or not 5 <= part_mb <= 5120:
        raise StorageSettingsError(
            f"S3_PART_MB={part_mb!r} is not a part size: give a whole number of MB from 5 (S3's "
            "smallest part) to 5120."
        )
    concurrency = config.get("S3_UPLOAD_CONCURRENCY", 4)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise StorageSettingsError(
            f"S3_UPLOAD_CONCURRENCY={concurrency!r} is not a number of parts sent at once: "
            "give 1 or more."
        )
    presigned = config.get("S3_PRESIGNED_DOWNLOADS", False)
    if not isinstance(presigned, bool):
        raise StorageSettingsError(f"S3_PRESIGNED_DOWNLOADS={presigned!r}: give true or false.")
    seconds = config.get("S3_PRESIGNED_SECONDS", 60)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 3600:
        raise StorageSettingsError(
            f"S3_PRESIGNED_SECONDS={seconds!r}: give the life of a download link in seconds, "
            "from 1 to 3600."
        )
    style = config.get("S3_ADDRESSING_STYLE") or None
    if style not in (None, "auto", "path", "virtual"):
        raise StorageSettingsError(
            f"S3_ADDRESSING_STYLE={style!r}: give 'path' (http://host/bucket/key), 'virtual' "
            "(http://bucket.host/key) or 'auto'."
        )
    prefix = str(config.get("S3_KEY_PREFIX", "attachments/") or "")
    if prefix.startswith("/"):
        raise StorageSettingsError(f"S3_KEY_PREFIX={prefix!r} must not start with '/'.")
    settings.update(
        bucket=bucket,
        endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        region=config.get("S3_REGION") or None,
        prefix=prefix,
        part_mb=part_mb,
        concurrency=concurrency,
        presigned_seconds=seconds if presigned else None,
        addressing_style=style,
    )
    return settings


def build_storage(settings: dict) -> Storage:
    folder = Path(settings["folder"])
    if settings["backend"] == "local":
        from services.storage.local import LocalStorage

        return LocalStorage(folder)
    from services.storage.s3 import S3Storage

    return S3Storage.from_settings(settings, staging_folder=folder)


_EXTENSION = "termtable.storage"


def storage_for(app) -> Storage:
    """The storage of `app` (a Flask app), built once for its settings and rebuilt when they
    change (tests change them)."""
    settings = storage_settings(app.config)
    key = tuple(sorted(settings.items()))
    cached = app.extensions.get(_EXTENSION)
    if cached is not None and cached[0] == key:
        return cached[1]
    storage = build_storage(settings)
    app.extensions[_EXTENSION] = (key, storage)
    return storage


@dataclass(frozen=True)
class StorageCheck:
    ok: bool
    detail: str


def storage_reachable(app=None) -> StorageCheck:
    """Readiness of the file storage (for /readyz): can files be stored and read? `ok` and
    a sentence saying what was checked or what is wrong. `app` defaults to the current app."""
    if app is None:
        from flask import current_app

        app = current_app._get_current_object()
    try:
        storage = storage_for(app)
        storage.check()
    except StorageSettingsError as err:
        return StorageCheck(False, str(err))
    except StorageError as err:
        return StorageCheck(False, err.message)
    return StorageCheck(True, f"{storage.description} is reachable")
