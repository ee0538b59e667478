"""Object storage in an S3 bucket through boto3: AWS, SeaweedFS or any S3-compatible server.

boto3 clients hold connection pools that must not cross a fork, so they are created on
first use in the calling process and created again when the process id changes (a Celery
prefork child inherits a store built in its parent, never its parent's client).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from render_core.errors import ConfigurationError, NotFound, StorageUnavailable
from render_core.settings import Settings
from render_core.storage.base import ObjectInfo, validate_key
from render_core.storage_url import S3Location

log = logging.getLogger(__name__)

# boto3 ships no type stubs here; the client is dynamic anyway.
S3Client = Any

DELETE_BATCH_SIZE = 1000  # the most keys one DeleteObjects request may carry
MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
REFUSED_CREDENTIALS_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class RetryBudget:
    """How long one call may try before it gives up with ``StorageUnavailable``.

    botocore's standard retry mode backs off exponentially with jitter on 5xx, SlowDown and
    connection errors; tests shrink the budget so that a dead server fails fast.
    """

    max_attempts: int = 5  # the first try included
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0


DEFAULT_RETRY_BUDGET = RetryBudget()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


@contextmanager
def _mapped_errors(action: str, key: str) -> Iterator[None]:
    """Translate boto3's errors (raised after its retries) into the service's error tree."""
    try:
        yield
    except ClientError as exc:
        if _error_code(exc) in MISSING_OBJECT_CODES:
            raise NotFound(f"object {key} not found") from exc
        reason = _error_code(exc) or f"HTTP {_http_status(exc)}"
        raise _unavailable(action, key, exc, reason) from exc
    except (BotoCoreError, S3UploadFailedError) as exc:
        raise _unavailable(action, key, exc, type(exc).__name__) from exc


def _unavailable(action: str, key: str, exc: Exception, reason: str) -> StorageUnavailable:
    """Clients see the key and the error's code (its message can name the endpoint and the
    bucket); the log gets all of it."""
    log.warning("S3 %s %s failed: %s", action, key, exc)
    return StorageUnavailable(f"S3 {action} {key} failed: {reason}")


class S3Store:
    """Objects live in ``bucket`` under ``prefix``; keys given to the methods omit the prefix.

    ``public_url``, when set, is the endpoint clients reach: presigned URLs are signed by a
    second client configured with it, because the host is part of the signature.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str = "",
        public_url: str = "",
        region: str = "us-east-1",
        presign_expiry_s: int = 3600,
        retry_budget: RetryBudget = DEFAULT_RETRY_BUDGET,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.public_url = public_url
        self.region = region
        self.presign_expiry_s = presign_expiry_s
        self.retry_budget = retry_budget
        self._transfer_config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD_BYTES,
            multipart_chunksize=MULTIPART_THRESHOLD_BYTES,
            max_concurrency=4,
        )
        self._clients: dict[str, S3Client] = {}
        self._clients_pid = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        location: S3Location,
        retry_budget: RetryBudget = DEFAULT_RETRY_BUDGET,
    ) -> S3Store:
        return cls(
            location.bucket,
            location.prefix,
            endpoint_url=settings.s3_endpoint_url,
            public_url=settings.s3_public_url,
            region=settings.s3_region,
            presign_expiry_s=settings.presign_expiry_s,
            retry_budget=retry_budget,
        )

    @property
    def _where(self) -> str:
        endpoint = self.endpoint_url or f"AWS S3 ({self.region})"
        return f"bucket {self.bucket!r} at {endpoint}"

    def _client_for(self, endpoint_url: str) -> S3Client:
        """One client per endpoint and process, made on first use (see the module docstring)."""
        if self._clients_pid != os.getpid():
            self._clients = {}
            self._clients_pid = os.getpid()
        if endpoint_url not in self._clients:
            budget = self.retry_budget
            config = Config(
                region_name=self.region,
                signature_version="s3v4",
                retries={"mode": "standard", "total_max_attempts": budget.max_attempts},
                connect_timeout=budget.connect_timeout_s,
                read_timeout=budget.read_timeout_s,
                # Custom endpoints (SeaweedFS, MinIO) rarely resolve bucket subdomains.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            )
            session = boto3.session.Session()  # the default session is not thread-safe
            self._clients[endpoint_url] = session.client(
                "s3", endpoint_url=endpoint_url or None, config=config
            )
        return self._clients[endpoint_url]

    @property
    def _client(self) -> S3Client:
        return self._client_for(self.endpoint_url)

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def check(self) -> None:
        """Head the bucket, then write and delete a probe object, so that read-only
        credentials fail at start-up rather than on the first render."""
        with self._start_up_errors("read"):
            self._client.head_bucket(Bucket=self.bucket)
        probe_key = f"{self.prefix}.check-{uuid.uuid4().hex}"
        with self._start_up_errors("write"):
            self._client.put_object(Bucket=self.bucket, Key=probe_key, Body=b"")
            self._client.delete_object(Bucket=self.bucket, Key=probe_key)

    @contextmanager
    def _start_up_errors(self, access: str) -> Iterator[None]:
        """Start-up failures name the bucket and the endpoint, and say what to fix."""
        try:
            yield
        except ClientError as exc:
            status = _http_status(exc)
            if status == 404:
                raise ConfigurationError(f"S3 {self._where} does not exist") from exc
            if status in REFUSED_CREDENTIALS_STATUSES:
                raise ConfigurationError(
                    f"S3 {self._where} refused our credentials to {access} "
                    f"({_error_code(exc)}); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
                    "and the key's permissions"
                ) from exc
            raise ConfigurationError(f"S3 {self._where} is not usable: {exc}") from exc
        except BotoCoreError as exc:
            raise ConfigurationError(f"S3 {self._where} cannot be used: {exc}") from exc

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        full_key = self._object_key(key)
        with _mapped_errors("put", key):
            self._client.put_object(
                Bucket=self.bucket, Key=full_key, Body=data, ContentType=content_type
            )

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Files over the multipart threshold go up in parts; S3 publishes them whole."""
        full_key = self._object_key(key)
        with _mapped_errors("upload", key):
            self._client.upload_file(
                Filename=str(path),
                Bucket=self.bucket,
                Key=full_key,
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer_config,
            )

    def get_bytes(self, key: str) -> bytes:
        full_key = self._object_key(key)
        with _mapped_errors("get", key):
            response = self._client.get_object(Bucket=self.bucket, Key=full_key)
            data: bytes = response["Body"].read()
        return data

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        full_key = self._object_key(key)
        with _mapped_errors("get", key):
            body = self._client.get_object(Bucket=self.bucket, Key=full_key)["Body"]
        try:
            with _mapped_errors("read", key):
                yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def _head(self, key: str) -> dict[str, Any]:
        full_key = self._object_key(key)
        with _mapped_errors("head", key):
            head: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=full_key)
        return head

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except NotFound:
            return False
        return True

    def _list_pages(self, prefix: str) -> Iterator[list[ObjectInfo]]:
        """Listing pages of at most 1000 objects, keys without the store's prefix."""
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=self.prefix + prefix,
            PaginationConfig={"PageSize": DELETE_BATCH_SIZE},
        )
        with _mapped_errors("list", prefix):
            for page in pages:
                yield [
                    ObjectInfo(key=item["Key"][len(self.prefix) :], size=int(item["Size"]))
                    for item in page.get("Contents", [])
                ]

    def list(self, prefix: str) -> list[ObjectInfo]:
        found = [info for page in self._list_pages(prefix) for info in page]
        return sorted(found, key=lambda info: info.key)

    def delete(self, key: str) -> None:
        full_key = self._object_key(key)
        with _mapped_errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=full_key)

    def delete_prefix(self, prefix: str) -> int:
        """Each listing page (at most ``DELETE_BATCH_SIZE`` keys) goes in one request."""
        deleted = 0
        for page in self._list_pages(prefix):
            if not page:
                continue
            with _mapped_errors("delete under", prefix):
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={
                        "Objects": [{"Key": self.prefix + info.key} for info in page],
                        "Quiet": True,
                    },
                )
            if errors := response.get("Errors"):
                raise StorageUnavailable(f"S3 refused to delete {len(errors)} objects: {errors[0]}")
            deleted += len(page)
        return deleted

    def presigned_url(self, key: str) -> str:
        """A GET URL signed anew on every call, for the public endpoint when one is set."""
        full_key = self._object_key(key)
        signer = self._client_for(self.public_url or self.endpoint_url)
        with _mapped_errors("sign", key):
            url: str = signer.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": full_key},
                ExpiresIn=self.presign_expiry_s,
            )
        return url
