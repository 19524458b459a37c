"""Entry files in an S3-compatible object store (AWS S3, MinIO, Ceph), through boto3.

Bytes are streamed both ways and never held whole: a finished upload goes up from its local
temporary file in parts (s3transfer's managed multipart upload), reads are GetObject bodies
read chunk by chunk, and code that needs a path gets a temporary local copy, downloaded the
same way and removed afterwards. Credentials come from boto3's usual chain (AWS_* variables,
~/.aws, an instance role), never from the app's settings.

An object appears whole or not at all (S3 has no half-written objects), which is what the
local backend's write-then-rename gives; keys are random, so nothing is ever overwritten.

boto3 is imported when a store is first made, not with this module: a site on local disk never
loads it, which takes 0.14 s off the start of every process (each server worker, job worker
and `flask` command).
"""

from __future__ import annotations

import errno
import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from contest.storage.common import TMP_DIR, StorageUnavailable, TempFolder, check_key

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

_PART = 8 * 1024 * 1024  # S3's smallest part is 5 MiB; 8 MiB is boto3's own default
_COPY_CHUNK = 1024 * 1024
_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


def transfer_config() -> TransferConfig:
    """Managed transfers that hold at most a few parts in memory at once.

    Two threads (the app servers have two cores, and several requests run at once), and a
    download queue of 8 MiB instead of s3transfer's 256 MiB, so a slow disk cannot make a
    download pile up in memory.
    """
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=_PART,
        multipart_chunksize=_PART,
        max_concurrency=2,
        preferred_transfer_client="classic",  # the CRT client ignores the memory limits below
    )
    config.max_in_memory_upload_chunks = 1
    config.max_in_memory_download_chunks = _PART // config.io_chunksize
    return config


class S3Storage(TempFolder):
    """Entry files as objects in one bucket, under an optional prefix; uploads spool locally."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        tmp: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        super().__init__(tmp)
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.transfer = transfer_config()

    @cached_property
    def client(self):
        """The boto3 client, made on first use (after a server forks, never before)."""
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard"},
            # MinIO and Ceph answer at their own address, not at bucket.host names.
            s3={"addressing_style": "path"} if self.endpoint_url else {},
        )
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config
        )

    def ensure_folders(self) -> None:
        """Create the local temporary folder (the bucket itself is made by its owner)."""
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    # Writing -----------------------------------------------------------------------------
    def put(self, data: bytes | BinaryIO, key: str) -> int:
        """Store bytes or a stream under `key`; returns the size written.

        A stream is spooled to a local temporary file first: s3transfer keeps every part of a
        stream in memory while it is sent (measured: four 8 MiB parts at once), but reads a
        file on disk as it sends it.
        """
        if isinstance(data, bytes):
            with _translated(key):
                self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
            return len(data)
        tmp_path, tmp = self.temp_file()
        try:
            with tmp:
                shutil.copyfileobj(data, tmp, _COPY_CHUNK)
                size = tmp.tell()
            self.adopt(tmp_path, key)
        finally:
            tmp_path.unlink(missing_ok=True)
        return size

    def ready_to_adopt(self, tmp_path: Path) -> None:
        """Nothing to do ahead: `adopt` sends the bytes, and the store keeps them safe."""

    def adopt(self, tmp_path: Path, key: str) -> None:
        """Upload a finished temporary file (see `temp_file`) to `key`, then remove it."""
        with _translated(key):
            self.client.upload_file(
                str(tmp_path), self.bucket, self._name(key), Config=self.transfer
            )
        Path(tmp_path).unlink()

    # Uploads in flight (tus): objects under <prefix>tmp/tus/, never entry keys ----------
    def _flight(self, name: str) -> str:
        return f"{self.prefix}{TMP_DIR}/tus/{name}"

    def start_multipart(self, name: str) -> str:
        """Begin the multipart upload of in-flight object `name`; its UploadId."""
        with _translated():
            answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._flight(name))
        return answer["UploadId"]

    def upload_part(self, name: str, upload_id: str, number: int, path: Path) -> str:
        """Send a local file as part `number` (streamed from disk); its ETag.
        FileNotFoundError if the multipart upload is gone (aborted)."""
        with open(path, "rb") as body, _translated(name):
            answer = self.client.upload_part(
                Bucket=self.bucket,
                Key=self._flight(name),
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
            )
        return answer["ETag"]

    def complete_multipart(self, name: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        """Join the parts (number, ETag) into the object `name`."""
        listed = [{"PartNumber": number, "ETag": etag} for number, etag in parts]
        with _translated(name):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._flight(name),
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )

    def abort_multipart(self, name: str, upload_id: str) -> None:
        """Give a multipart upload up (its parts go); one already ended is not an error."""
        from botocore.exceptions import ClientError

        try:
            with _translated():
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self._flight(name), UploadId=upload_id
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchUpload", "404"):
                raise

    def multipart_uploads(self) -> list[tuple[str, str, datetime]]:
        """The unfinished multipart uploads of in-flight objects: (name, UploadId, started)."""
        start = self._flight("")
        found: list[tuple[str, str, datetime]] = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=start
        )
        with _translated():
            for page in pages:
                for item in page.get("Uploads", ()):
                    name = item["Key"][len(start) :]
                    found.append((name, item["UploadId"], item["Initiated"]))
        return found

    def put_flight(self, name: str, path: Path) -> None:
        """Store a local file as the in-flight object `name` (replacing it whole)."""
        with open(path, "rb") as body, _translated():
            self.client.put_object(Bucket=self.bucket, Key=self._flight(name), Body=body)

    def read_flight(self, name: str, into: BinaryIO, stop: int | None = None) -> None:
        """Copy the in-flight object `name`, up to byte `stop`, into an open file."""
        extra = {} if stop is None else {"Range": f"bytes=0-{stop - 1}"}
        with _translated(name):
            body = self.client.get_object(Bucket=self.bucket, Key=self._flight(name), **extra)
            shutil.copyfileobj(body["Body"], into, _COPY_CHUNK)

    def delete_flight(self, name: str) -> None:
        with _translated(name):
            self.client.delete_object(Bucket=self.bucket, Key=self._flight(name))

    def flight_objects(self) -> list[tuple[str, datetime]]:
        """Every in-flight object (tails, finished uploads) as (name, last modified)."""
        start = self._flight("")
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        with _translated():
            return [
                (item["Key"][len(start) :], item["LastModified"])
                for page in pages
                for item in page.get("Contents", ())
            ]

    def delete_flights(self, name: str) -> None:
        """Delete the in-flight object `name` and every one named `name.<anything>`."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._flight(name)
        )
        start = self._flight("")
        with _translated():
            for page in pages:
                for item in page.get("Contents", ()):
                    found = item["Key"][len(start) :]
                    if found == name or found.startswith(name + "."):
                        self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    # Reading and deleting ----------------------------------------------------------------
    def open(self, key: str, start: int = 0, stop: int | None = None) -> BinaryIO:
        """A streaming reader of the object, from byte `start` up to (not including) `stop`."""
        name = self._name(key)
        if stop is not None and stop <= start:
            return io.BytesIO()
        extra = {}
        if start or stop is not None:
            extra["Range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        with _translated(key):
            return self.client.get_object(Bucket=self.bucket, Key=name, **extra)["Body"]

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A temporary local copy, for code that needs a path; removed when the block ends."""
        path, file = self.temp_file(PurePosixPath(key).suffix or ".part")
        try:
            with file, _translated(key):
                self.client.download_fileobj(
                    self.bucket, self._name(key), file, Config=self.transfer
                )
            yield path
        finally:
            path.unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        """The size in bytes of a stored object."""
        with _translated(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        return head["ContentLength"]

    def delete(self, key: str) -> None:
        """Remove a stored object; one already gone is not an error (S3 says so too)."""
        with _translated(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def keys(self) -> Iterator[str]:
        """Every stored key under the prefix."""
        return (key for key, _ in self.sizes())

    def sizes(self) -> Iterator[tuple[str, int]]:
        """Every stored key with its size, listed a page of a thousand at a time."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        with _translated():
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self.prefix) :]
                    if not key.startswith(TMP_DIR + "/"):  # uploads in flight, not entries
                        yield key, item["Size"]


@contextmanager
def _translated(key: str | None = None) -> Iterator[None]:
    """S3's failures as the rest of the app knows them: a missing object is FileNotFoundError,
    as a missing local file is; a store that cannot be reached, or answers with a server error
    (after boto3's own retries), is StorageUnavailable."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError
    from botocore.exceptions import ConnectionError as EndpointUnreachable

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in _MISSING and key is not None:
            raise FileNotFoundError(errno.ENOENT, "not stored", key) from None
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise StorageUnavailable(f"the object store answered {code}") from error
        raise
    except (EndpointUnreachable, HTTPClientError, S3UploadFailedError, NoCredentialsError) as error:
        # NoCredentialsError: a server set up without its key; the log says which it was.
        raise StorageUnavailable(f"{type(error).__name__}: {error}") from error
