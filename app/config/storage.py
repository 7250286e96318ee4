"""The documents' S3 storage: django-storages' backend with the app's AWS timeouts (config.aws).

A subclass rather than a `client_config` in settings: building botocore's Config there would
import botocore into every process at start-up (about 0.1 s of each dev-server reload), whether
or not it ever touches S3. Django imports this module on the first use of the storage.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError
from django.core.files.base import File
from storages.backends.s3 import S3Storage

from config import aws
from config.dependencies import DependencyUnavailable


@contextmanager
def _s3_outage_as_unavailable() -> Iterator[None]:
    """S3 unreachable or timed out (after config.aws's bounded retries): a 503, not a 500."""
    try:
        yield
    except (BotocoreConnectionError, HTTPClientError) as error:
        raise DependencyUnavailable("s3", error) from error


class DocumentStorage(S3Storage):
    def get_default_settings(self) -> dict[str, Any]:
        return {
            **super().get_default_settings(),
            "client_config": aws.client_config(),
        }

    def _save(self, name: str, content: File) -> str:
        with _s3_outage_as_unavailable():
            return str(super()._save(name, content))

    def _open(self, name: str, mode: str = "rb") -> File:
        with _s3_outage_as_unavailable():
            return super()._open(name, mode)

    def delete(self, name: str) -> None:
        with _s3_outage_as_unavailable():
            super().delete(name)
