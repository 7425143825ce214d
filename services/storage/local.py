"""The local backend: stored files in UPLOAD_FOLDER, each under its stored name, next to the
staging files of uploads under way (so storing one is a rename on the same disk)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from services.storage import (
    STORED_NAME,
    Storage,
    StorageUnavailable,
    StoredFile,
    StoredFileMissing,
    StoredObject,
)


class LocalStorage(Storage):
    def __init__(self, folder: Path):
        self.folder = folder
        self.staging_folder = folder
        self.description = str(folder)
        self.setting = "UPLOAD_FOLDER"

    def path(self, name: str) -> Path:
        return self.folder / name

    def store(self, name: str, source: Path, *, content_type: str) -> None:
        # The same file, renamed: an upload is written to disk once.
        os.replace(source, self.path(name))

    def open(self, name: str) -> StoredFile:
        path = self.path(name)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise StoredFileMissing(f"{path} is missing") from None
        if not path.is_file():
            raise StoredFileMissing(f"{path} is not a file")
        return StoredFile(
            size_bytes=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, UTC), path=path
        )

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def stored_objects(self) -> Iterator[StoredObject]:
        if not self.folder.is_dir():
            return
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if not STORED_NAME.fullmatch(entry.name) or not entry.is_file(
                    follow_symlinks=False
                ):
                    continue
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed meanwhile
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield StoredObject(entry.name, stat.st_size, modified)

    def check(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageUnavailable(
                f"The upload folder {self.folder} cannot be made ({err.strerror})."
            ) from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"The upload folder {self.folder} is not writable.")
