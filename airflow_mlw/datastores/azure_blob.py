"""Azure Blob backend: a container, reached through a ``wasb`` connection or an account key / SAS
token stored Fernet-encrypted in the registry, or anonymously (a public container, read-only).

Checksums are the blobs' Content-MD5, which every upload sets from the local file's memoised MD5;
downloads are hashed as they stream and compared before the file becomes visible.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, cast

from airflow_mlw.datastores.base import FileInfo, StorageBackend
from airflow_mlw.datastores.checksums import MD5, ContentHashMemo, md5_base64_to_hex
from airflow_mlw.datastores.local import copy_with_digest
from airflow_mlw.datastores.paths import under_prefix
from airflow_mlw.exceptions import DatastoreConnectionError, DatastoreReadOnlyError, MlwError

SINGLE_PUT = 64 * 1024 * 1024


def account_url(account_name: str, endpoint: str | None) -> str:
    """Blob service URL from Azure's suffix form (``core.windows.net``) or a full URL (Azurite)."""
    if not endpoint:
        endpoint = "core.windows.net"
    if "://" in endpoint:
        return endpoint.rstrip("/")
    return f"https://{account_name}.blob.{endpoint.strip('.')}"


class AzureBlobBackend(StorageBackend):
    """Blobs in ``container``.

    :param container: container name
    :param account_name: storage account
    :param endpoint: Azure's suffix form or a full blob service URL
    :param credential: account key or SAS token (clear text in memory only), or ``None`` with ``conn_id``
    :param conn_id: Airflow ``wasb`` connection, used instead of a stored credential
        (neither: anonymous access to a public container, reads only)
    """

    kind = "azure_blob"

    @classmethod
    def for_datastore(cls, datastore: Any, memo: ContentHashMemo) -> AzureBlobBackend:
        from airflow_mlw.datastores.credentials import decrypt_secret

        config, secret = datastore.config, datastore._record["secret"]
        return cls(
            config["container_name"],
            config["account_name"],
            config.get("endpoint"),
            decrypt_secret(secret, datastore.workspace) if secret else None,
            datastore.conn_id,
            memo,
            datastore.name,
        )

    def __init__(
        self,
        container: str,
        account_name: str,
        endpoint: str | None,
        credential: Any,
        conn_id: str | None,
        memo: ContentHashMemo,
        datastore: str = "",
    ) -> None:
        super().__init__(memo)
        self.container = container
        self.account_name = account_name
        self.endpoint = endpoint
        self._credential = credential
        self.conn_id = conn_id
        self.datastore = datastore or container

    def __repr__(self) -> str:
        return f"AzureBlobBackend(container={self.container!r}, account={self.account_name!r})"

    @property
    def where(self) -> str:
        return f"Azure Blob datastore {self.datastore!r} (account {self.account_name!r}, container {self.container!r})"

    @property
    def anonymous(self) -> bool:
        """Registered without a key, SAS token or connection: a public container, read anonymously."""
        return not self._credential and not self.conn_id

    def uri(self, path: str) -> str:
        # Azure's own name of the blob service host (an emulator's URL gives its host and port).
        host = account_url(self.account_name, self.endpoint).split("://", 1)[1].split("/", 1)[0]
        return f"wasbs://{self.container}@{host}/{path}"

    def _refuse_anonymous_write(self) -> None:
        if self.anonymous:
            raise DatastoreReadOnlyError(
                f"{self.where} is registered without credentials (anonymous, public read access) and "
                "cannot be written; register it with account_key, sas_token or conn_id to write"
            )

    @cached_property
    def service(self) -> Any:
        try:
            from azure.storage.blob import BlobServiceClient
        except ImportError:
            raise MlwError(
                "Azure Blob datastores need azure-storage-blob: pip install 'airflow-mlw[azure]'"
            ) from None
        # The SDK logs every request and response at INFO: thousands of lines per tree transfer.
        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
        if self.conn_id:
            try:
                from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

                return WasbHook(wasb_conn_id=self.conn_id).get_conn()
            except Exception as exc:
                if type(exc).__name__ == "AirflowNotFoundException":
                    raise DatastoreConnectionError(
                        f"{self.where}: Airflow connection {self.conn_id!r} is not defined"
                    ) from None
                raise self._error(exc) from None
        credential = self._credential
        if isinstance(credential, dict) and "account_key" in credential:
            credential = {"account_name": self.account_name, "account_key": credential["account_key"]}
        elif isinstance(credential, dict):
            credential = credential.get("sas_token")
        return BlobServiceClient(account_url(self.account_name, self.endpoint), credential=credential)

    @cached_property
    def client(self) -> Any:
        return self.service.get_container_client(self.container)

    def _error(self, exc: Exception) -> MlwError:
        """A clear error naming the datastore; never the SDK's message, which may carry a SAS URL."""
        if isinstance(exc, MlwError):
            return exc
        name = type(exc).__name__
        code = _error_code(exc)
        if code == "ContainerNotFound":
            return DatastoreConnectionError(f"{self.where}: container {self.container!r} does not exist")
        if self.anonymous and (code in ("ResourceNotFound", "NoAuthenticationInformation") or "Auth" in code):
            return DatastoreConnectionError(
                f"{self.where}: anonymous access refused ({code}); the container is not public: "
                "register it with account_key, sas_token or conn_id"
            )
        if (
            name == "ClientAuthenticationError"
            or code.startswith("AuthenticationFailed")
            or code == "AuthorizationFailure"
        ):
            return DatastoreConnectionError(
                f"{self.where}: authentication failed; check the account key or SAS token"
            )
        if name in ("ServiceRequestError", "ServiceResponseError"):
            return DatastoreConnectionError(
                f"{self.where}: cannot reach {account_url(self.account_name, self.endpoint)}"
            )
        return DatastoreConnectionError(f"{self.where}: {name} {code}".strip())

    def create_container(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        self._refuse_anonymous_write()
        try:
            self.client.create_container()
        except ResourceExistsError:
            pass
        except Exception as exc:
            raise self._error(exc) from None

    def check_access(self) -> None:
        try:
            self.client.get_container_properties()
        except Exception as exc:
            raise self._error(exc) from None

    @staticmethod
    def _info(path: str, properties: Any) -> FileInfo:
        md5 = properties.content_settings.content_md5
        checksum = md5_base64_to_hex(md5) if md5 else None
        return FileInfo(path, properties.size, checksum, MD5 if checksum else None)

    def list(self, prefix: str = "") -> Iterator[FileInfo]:
        try:
            for blob in self.client.list_blobs(name_starts_with=prefix or None):
                if under_prefix(blob.name, prefix) and not blob.name.endswith("/"):
                    yield self._info(blob.name, blob)
        except Exception as exc:
            raise self._error(exc) from None

    def info(self, path: str) -> FileInfo | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            properties = self.client.get_blob_client(path).get_blob_properties()
        except ResourceNotFoundError as exc:
            if _error_code(exc) == "ContainerNotFound":
                raise self._error(exc) from None
            return None
        except Exception as exc:
            raise self._error(exc) from None
        return self._info(path, properties)

    def with_checksum(self, info: FileInfo) -> FileInfo:
        """Blobs uploaded in blocks by other tools may lack Content-MD5: hash them as they stream."""
        if info.checksum is not None:
            return info
        import hashlib

        digest = hashlib.md5()
        with self.open_read(info.path) as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        return FileInfo(info.path, info.size, digest.hexdigest(), MD5)

    def open_read(self, path: str) -> BinaryIO:
        try:
            downloader = self.client.download_blob(path, max_concurrency=2)
        except Exception as exc:
            raise self._error(exc) from None
        return cast(BinaryIO, _DownloadStream(downloader))

    def before_write(self, paths: Sequence[str]) -> None:
        self._refuse_anonymous_write()

    def put_file(self, local_path: Path, path: str) -> FileInfo:
        from azure.storage.blob import ContentSettings

        self._refuse_anonymous_write()
        md5 = self.memo.digest(local_path, MD5)
        size = local_path.stat().st_size
        try:
            with open(local_path, "rb") as data:
                self.client.upload_blob(
                    path,
                    data,
                    length=size,
                    overwrite=True,
                    content_settings=ContentSettings(content_md5=bytearray.fromhex(md5)),
                    max_concurrency=4 if size > SINGLE_PUT else 1,
                )
        except Exception as exc:
            raise self._error(exc) from None
        return FileInfo(path, size, md5, MD5)

    def get_file(self, info: FileInfo, local_path: Path) -> None:
        with self.open_read(info.path) as stream:
            digest, _ = copy_with_digest(stream, local_path, MD5, info.checksum, info.path)
        self.memo.record(local_path.stat(), MD5, digest)

    def delete(self, path: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        self._refuse_anonymous_write()
        try:
            self.client.delete_blob(path)
        except ResourceNotFoundError:
            pass
        except Exception as exc:
            raise self._error(exc) from None

    @property
    def max_workers(self) -> int:
        return 16


def _error_code(exc: Exception) -> str:
    """The storage error code (``ContainerNotFound``...), whether the SDK gives a string or an enum."""
    code = getattr(exc, "error_code", "") or ""
    return str(getattr(code, "value", code))


class _DownloadStream:
    """File-like reader over a blob download, chunk by chunk (never the whole blob in memory)."""

    def __init__(self, downloader: Any) -> None:
        self._chunks = downloader.chunks()
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def close(self) -> None:
        self._buffer = b""

    def __enter__(self) -> _DownloadStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
