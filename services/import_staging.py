"""Import files kept between their preview and their application (the Imports page).

The uploaded bytes are written to a folder (the instance's `imports/`) under a name made of
the import's kind, the staff user's id and the SHA-256 of the bytes. Applying names the hash
the preview showed: the file applied is the one previewed, byte for byte (read back, hashed
again), never a file uploaded since, and nobody else's (the user id is part of the name).
A file is removed once applied, and any left over for a day goes at the next upload.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

STALE_SECONDS = 24 * 3600
_SHA256 = re.compile(r"[0-9a-f]{64}")
KINDS = ("timetable", "exceptions")


def _path(folder: Path, kind: str, user_id: int, sha256: str) -> Path | None:
    if kind not in KINDS or not _SHA256.fullmatch(sha256 or "") or not isinstance(user_id, int):
        return None
    return folder / f"{kind}-{user_id}-{sha256}.csv"


def stage_import(folder: Path, kind: str, user_id: int, data: bytes) -> str:
    """Keep `data` for `user_id`'s next step; returns its SHA-256 (hex)."""
    folder.mkdir(parents=True, exist_ok=True)
    sweep_stale_imports(folder)
    sha256 = hashlib.sha256(data).hexdigest()
    path = _path(folder, kind, user_id, sha256)
    temporary = path.with_suffix(f".{os.getpid()}.part")
    temporary.write_bytes(data)
    temporary.replace(path)  # atomic: a reader never sees half a file
    return sha256


def staged_import(folder: Path, kind: str, user_id: int, sha256: str) -> bytes | None:
    """The bytes kept under this hash for this user, None if there are none (or they no
    longer hash to it)."""
    path = _path(folder, kind, user_id, sha256)
    if path is None or not path.is_file():
        return None
    data = path.read_bytes()
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def discard_import(folder: Path, kind: str, user_id: int, sha256: str) -> None:
    path = _path(folder, kind, user_id, sha256)
    if path is not None:
        path.unlink(missing_ok=True)


def sweep_stale_imports(folder: Path, now: float | None = None) -> int:
    """Remove the kept files (and broken-off partial ones) older than a day."""
    now = time.time() if now is None else now
    removed = 0
    for path in folder.glob("*.csv"):
        try:
            if now - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    for path in folder.glob("*.part"):
        try:
            if now - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
        except FileNotFoundError:
            continue
    return removed
