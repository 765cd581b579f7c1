"""S3-compatible object storage (AWS S3, MinIO, Ceph RGW, OBS' S3 API, ...) through boto3."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlparse

from labelpilot.errors import StorageUnavailable

T = TypeVar("T")


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URL: {url!r}")
    return parsed.netloc, parsed.path.strip("/")


def unreachable(root_url: str, exc: Exception) -> StorageUnavailable:
    """The error for a store that does not answer (after boto3's own retries)."""
    return StorageUnavailable(
        f"object storage {root_url} is unreachable ({type(exc).__name__}); check "
        "LABELPILOT_S3_ENDPOINT_URL and that the store is up"
    )


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Turn botocore's connection failures into ``StorageUnavailable``."""

    @functools.wraps(method)
    def call(self: S3Storage, *args: Any, **kwargs: Any) -> T:
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError

        try:
            return method(self, *args, **kwargs)
        except (BotoConnectionError, HTTPClientError) as exc:
            raise unreachable(self.root_url, exc) from exc

    return call


class S3Storage:
    """Objects under ``s3://bucket/prefix``; keys are ``/``-separated paths below the prefix.

    Writes are single PUTs (atomic for readers); the bucket is created when missing.
    """

    def __init__(
        self,
        root_url: str,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = split_s3_url(root_url)
        self.root_url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region or "us-east-1",
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        self._ensure_bucket()

    @_guarded
    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def _key(self, key: str) -> str:
        key = key.lstrip("/")
        parts = key.split("/")
        if any(p in ("..", ".") for p in parts):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    @_guarded
    def put(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.url(key)

    @_guarded
    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"{self.url(key)} does not exist") from exc
            raise
        data: bytes = obj["Body"].read()
        return data

    @_guarded
    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    @_guarded
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    @_guarded
    def delete_prefix(self, prefix: str) -> None:
        keys = list(self.list(prefix))
        for start in range(0, len(keys), 1000):
            objects = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})

    def list(self, prefix: str = "") -> Iterator[str]:
        full = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError

        paginator = self.client.get_paginator("list_objects_v2")
        keys: list[str] = []
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        except (BotoConnectionError, HTTPClientError) as exc:
            raise unreachable(self.root_url, exc) from exc
        yield from sorted(keys)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def key_of(self, url: str) -> str | None:
        try:
            bucket, path = split_s3_url(url)
        except ValueError:
            return None
        if bucket != self.bucket:
            return None
        if not self.prefix:
            return path
        if path.startswith(self.prefix + "/"):
            return path[len(self.prefix) + 1 :]
        return None
