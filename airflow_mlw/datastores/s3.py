"""S3 backend over the amazon provider's S3Hook (an Airflow ``aws`` connection).

Checksums are S3 ETags: the MD5 of objects put in one request, the multipart ETag of larger ones
(parts of :data:`PART_SIZE`, boto3's default). Small files are put with a Content-MD5 header the
server checks; multipart parts carry botocore's CRC32 checksums; downloads are hashed as they
stream and compared with the ETag before the file becomes visible.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

from airflow_mlw.datastores.base import FileInfo, StorageBackend
from airflow_mlw.datastores.checksums import MD5, ContentHashMemo, md5_hex_to_base64, s3_etag_kind
from airflow_mlw.datastores.local import copy_with_digest
from airflow_mlw.datastores.paths import join_path, under_prefix
from airflow_mlw.exceptions import DatastoreConnectionError, MlwError

PART_SIZE = 8 * 1024 * 1024
MiB = 1024 * 1024


def etag_kind(etag: str, size: int) -> str:
    """Digest kind that reproduces ``etag`` from a local file of ``size`` bytes."""
    if "-" not in etag:
        return MD5
    parts = int(etag.rsplit("-", 1)[1])
    if math.ceil(size / PART_SIZE) == parts or (size == 0 and parts == 1):
        return s3_etag_kind(PART_SIZE)
    # Uploaded by another tool: its part size, rounded up to whole MiB as tools choose them.
    return s3_etag_kind(math.ceil(size / parts / MiB) * MiB)


class S3Backend(StorageBackend):
    """Objects under ``prefix`` in ``bucket``.

    :param bucket: bucket name
    :param prefix: key prefix inside the bucket that is this datastore's root
    :param aws_conn_id: Airflow ``aws`` connection
    """

    kind = "s3"

    @classmethod
    def for_datastore(cls, datastore: Any, memo: ContentHashMemo) -> S3Backend:
        config = datastore.config
        return cls(
            config["bucket_name"],
            config.get("prefix") or "",
            datastore.conn_id or "aws_default",
            memo,
            datastore.name,
        )

    def __init__(
        self, bucket: str, prefix: str, aws_conn_id: str, memo: ContentHashMemo, datastore: str = ""
    ) -> None:
        super().__init__(memo)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.aws_conn_id = aws_conn_id
        self.datastore = datastore or bucket

    @cached_property
    def client(self) -> Any:
        try:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook
            from botocore.config import Config
        except ImportError:
            raise MlwError("S3 datastores need the amazon provider: pip install 'airflow-mlw[s3]'") from None
        try:
            hook = S3Hook(aws_conn_id=self.aws_conn_id, config=Config(max_pool_connections=64))
            return hook.get_conn()
        except Exception as exc:  # the hook raises AirflowNotFoundException and friends
            raise self._error(exc) from None

    @cached_property
    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE)

    def key(self, path: str) -> str:
        return join_path(self.prefix, path)

    def uri(self, path: str) -> str:
        return f"s3://{self.bucket}/{self.key(path)}"

    def _error(self, exc: Exception) -> MlwError:
        """A clear error naming the datastore, bucket and connection; never a credential."""
        if isinstance(exc, MlwError):
            return exc
        name = type(exc).__name__
        code = ""
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
        where = f"S3 datastore {self.datastore!r} (bucket {self.bucket!r}, connection {self.aws_conn_id!r})"
        if name == "AirflowNotFoundException":
            return DatastoreConnectionError(
                f"{where}: Airflow connection {self.aws_conn_id!r} is not defined"
            )
        if name == "NoCredentialsError":
            # S3Hook falls back to boto3's credential chain when the connection is missing.
            return DatastoreConnectionError(
                f"{where}: no AWS credentials: Airflow connection {self.aws_conn_id!r} is not defined "
                "and the worker has no default AWS credentials"
            )
        if code == "NoSuchBucket" or (code == "404" and getattr(exc, "operation_name", "") == "HeadBucket"):
            return DatastoreConnectionError(f"{where}: bucket {self.bucket!r} does not exist")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken"):
            return DatastoreConnectionError(
                f"{where}: access denied ({code}); check the connection's credentials"
            )
        if name in ("EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError"):
            return DatastoreConnectionError(f"{where}: cannot reach the S3 endpoint ({name})")
        return DatastoreConnectionError(f"{where}: {name} {code}".strip())

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:
            raise self._error(exc) from None

    def check_access(self) -> None:
        self._call("head_bucket", Bucket=self.bucket)

    def list(self, prefix: str = "") -> Iterator[FileInfo]:
        root = self.key(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=root):
                for item in page.get("Contents", ()):
                    key = item["Key"]
                    if key.endswith("/"):
                        continue  # folder markers made by consoles
                    path = key[strip:]
                    if under_prefix(path, prefix):
                        etag = item["ETag"].strip('"')
                        yield FileInfo(path, item["Size"], etag, etag_kind(etag, item["Size"]))
        except MlwError:
            raise
        except Exception as exc:
            raise self._error(exc) from None

    def info(self, path: str) -> FileInfo | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(path))
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc) from None
        etag = head["ETag"].strip('"')
        return FileInfo(path, head["ContentLength"], etag, etag_kind(etag, head["ContentLength"]))

    def open_read(self, path: str) -> BinaryIO:
        body = self._call("get_object", Bucket=self.bucket, Key=self.key(path))["Body"]
        return body  # type: ignore[no-any-return]

    def put_file(self, local_path: Path, path: str) -> FileInfo:
        size = local_path.stat().st_size
        try:
            if size < PART_SIZE:
                md5 = self.memo.digest(local_path, MD5)
                with open(local_path, "rb") as body:
                    self.client.put_object(
                        Bucket=self.bucket, Key=self.key(path), Body=body, ContentMD5=md5_hex_to_base64(md5)
                    )
                return FileInfo(path, size, md5, MD5)
            self.client.upload_file(str(local_path), self.bucket, self.key(path), Config=self.transfer_config)
        except Exception as exc:
            raise self._error(exc) from None
        return FileInfo(path, size)

    def get_file(self, info: FileInfo, local_path: Path) -> None:
        kind = info.checksum_kind or MD5
        with self.open_read(info.path) as body:
            digest, _ = copy_with_digest(body, local_path, kind, info.checksum, info.path)
        self.memo.record(local_path.stat(), kind, digest)

    def delete(self, path: str) -> None:
        self._call("delete_object", Bucket=self.bucket, Key=self.key(path))

    @property
    def max_workers(self) -> int:
        return 16
