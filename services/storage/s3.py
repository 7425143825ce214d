"""The S3 backend: stored files as objects in an S3-compatible bucket (AWS S3, MinIO,
s3rver...), through boto3.

Up: `upload_file` reads the checked staging file from this host's disk, in parts of S3_PART_MB
sent S3_UPLOAD_CONCURRENCY at a time (a multipart upload past one part); s3transfer opens the
file per part and reads it as it sends, so no part is held in memory whole. Down: `S3Reader`
fetches what the download reads, a ranged GET streamed in chunks, so neither direction holds a
file in memory. Credentials are boto3's own (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a
profile or an instance role).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from services.storage import (
    STORED_NAME,
    MissingBucket,
    Storage,
    StorageUnavailable,
    StoredFile,
    StoredFileMissing,
    StoredObject,
)

log = logging.getLogger(__name__)

MB = 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_REFUSED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class S3Storage(Storage):
    def __init__(
        self,
        *,
        client,
        bucket: str,
        prefix: str,
        staging_folder: Path,
        part_bytes: int = 8 * MB,
        concurrency: int = 4,
        presigned_seconds: int | None = None,
    ):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.staging_folder = staging_folder
        self.description = f"s3://{bucket}/{prefix}"
        self.setting = "S3_BUCKET"
        self.presigned_seconds = presigned_seconds
        self.transfer = TransferConfig(
            multipart_threshold=part_bytes,
            multipart_chunksize=part_bytes,
            max_concurrency=concurrency,
            use_threads=concurrency > 1,
        )

    @classmethod
    def from_settings(cls, settings: dict, *, staging_folder: Path) -> S3Storage:
        endpoint = settings["endpoint_url"]
        # MinIO, s3rver and most S3-compatible servers take the bucket in the path; AWS
        # itself works either way and picks for itself.
        style = settings["addressing_style"] or ("path" if endpoint else "auto")
        config = Config(
            s3={"addressing_style": style},
            signature_version="s3v4",
            # botocore's default since 1.36 (a CRC trailer on every upload) is refused by
            # many S3-compatible servers; checksums only where S3 requires them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=5,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
        )
        # A session of its own: boto3's default session is not safe to share between threads
        # (the client made from it is).
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, region_name=settings["region"], config=config
        )
        return cls(
            client=client,
            bucket=settings["bucket"],
            prefix=settings["prefix"],
            staging_folder=staging_folder,
            part_bytes=settings["part_mb"] * MB,
            concurrency=settings["concurrency"],
            presigned_seconds=settings["presigned_seconds"],
        )

    def key(self, name: str) -> str:
        return self.prefix + name

    def _unavailable(self, err: Exception, doing: str) -> StorageUnavailable:
        log.warning("file storage %s: %s failed: %s", self.description, doing, err)
        if isinstance(err, NoCredentialsError):
            return StorageUnavailable(
                f"File storage {self.description} has no credentials: set AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY."
            )
        if isinstance(err, ClientError):
            code = _code(err)
            if code == "NoSuchBucket":
                return self._missing_bucket()
            if code in _REFUSED:
                return StorageUnavailable(
                    f"File storage {self.description} refused to {doing} ({code}): check the "
                    "credentials and the bucket's permissions."
                )
            return StorageUnavailable(
                f"File storage {self.description} could not {doing} ({code or err})."
            )
        return StorageUnavailable(
            f"File storage {self.description} cannot be reached to {doing} "
            f"({err.__class__.__name__})."
        )

    def _missing_bucket(self) -> MissingBucket:
        where = self.client.meta.endpoint_url
        return MissingBucket(
            f"The bucket {self.bucket!r} does not exist at {where}: create it, or set "
            "S3_BUCKET to an existing one."
        )

    def store(self, name: str, source: Path, *, content_type: str) -> None:
        try:
            self.client.upload_file(
                str(source),
                self.bucket,
                self.key(name),
                ExtraArgs={"ContentType": content_type},
                Config=self.transfer,
            )
        except S3UploadFailedError as err:
            cause = err.__cause__ or err.__context__
            raise self._unavailable(
                cause if isinstance(cause, ClientError | BotoCoreError) else err, "store a file"
            ) from None
        except (ClientError, BotoCoreError) as err:
            raise self._unavailable(err, "store a file") from None
        # Taken over: the copy on this host's disk goes.
        source.unlink(missing_ok=True)

    def open(self, name: str) -> StoredFile:
        key = self.key(name)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _code(err) in _NOT_FOUND:
                raise StoredFileMissing(f"{self.description}{name} is missing") from None
            raise self._unavailable(err, "read a file") from None
        except BotoCoreError as err:
            raise self._unavailable(err, "read a file") from None
        size = int(head["ContentLength"])
        return StoredFile(
            size_bytes=size,
            modified=head.get("LastModified"),
            reader=S3Reader(self, key, size),
        )

    def remove(self, name: str) -> None:
        try:
            # Deleting a key that is not there succeeds: nothing to tell apart.
            self.client.delete_object(Bucket=self.bucket, Key=self.key(name))
        except (ClientError, BotoCoreError) as err:
            raise self._unavailable(err, "remove a file") from None

    def stored_objects(self) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", ()):
                    name = item["Key"][len(self.prefix) :]
                    if STORED_NAME.fullmatch(name):
                        yield StoredObject(name, int(item["Size"]), item["LastModified"])
        except (ClientError, BotoCoreError) as err:
            raise self._unavailable(err, "list the files") from None

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            if _code(err) in ("404", "NoSuchBucket", "NotFound"):
                raise self._missing_bucket() from None
            raise self._unavailable(err, "open the bucket") from None
        except BotoCoreError as err:
            raise self._unavailable(err, "open the bucket") from None

    def download_url(self, name: str, *, disposition: str, content_type: str) -> str | None:
        if self.presigned_seconds is None:
            return None
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(name),
                # The object's own type and the app's download name and nosniff-safe type.
                "ResponseContentDisposition": disposition,
                "ResponseContentType": content_type,
                "ResponseCacheControl": "private, no-cache",
            },
            ExpiresIn=self.presigned_seconds,
        )


class S3Reader(io.RawIOBase):
    """An object read as a seekable file: each run of reads from one position is one ranged
    GET, streamed as it is read (`read(n)` takes at most n bytes off the connection). A
    download that will read only a range says so first (`expect_range`), so the GET asks for
    that range alone."""

    def __init__(self, storage: S3Storage, key: str, size: int):
        super().__init__()
        self._storage = storage
        self._key = key
        self._size = size
        self._position = 0
        self._body = None
        self._body_end = 0
        self._expected: tuple[int, int] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._close_body()
            self._position = position
        return position

    def expect_range(self, start: int, stop: int) -> None:
        """Only bytes start..stop-1 will be read (a Range request)."""
        self._expected = (start, stop)

    def readinto(self, buffer) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        if self._body is not None and self._position >= self._body_end:
            self._close_body()
        if self._body is None:
            self._open_body()
        data = self._body.read(min(len(buffer), self._body_end - self._position))
        if not data:
            raise OSError(f"{self._key}: the stream ended early at byte {self._position}")
        count = len(data)
        buffer[:count] = data
        self._position += count
        return count

    def _open_body(self) -> None:
        stop = self._size
        if self._expected is not None and self._expected[0] == self._position:
            stop = self._expected[1]
        storage = self._storage
        try:
            response = storage.client.get_object(
                Bucket=storage.bucket, Key=self._key, Range=f"bytes={self._position}-{stop - 1}"
            )
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and _code(err) in _NOT_FOUND:
                raise OSError(f"{self._key} went missing during its download") from None
            raise OSError(storage._unavailable(err, "read a file").message) from None
        self._body = response["Body"]
        self._body_end = stop

    def _close_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()
