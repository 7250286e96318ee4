"""The documents' S3 storage: django-storages' backend with the app's AWS timeouts and S3's
circuit breaker (config.aws).

A subclass rather than a `client_config` in settings: building botocore's Config there would
import botocore into every process at start-up (about 0.1 s of each dev-server reload), whether
or not it ever touches S3. Django imports this module on the first use of the storage.
"""

from typing import Any

import boto3
from django.core.files.base import File
from storages.backends.s3 import S3Storage

from config import aws


class DocumentStorage(S3Storage):
    def get_default_settings(self) -> dict[str, Any]:
        return {
            **super().get_default_settings(),
            "client_config": aws.client_config(),
        }

    def _create_session(self) -> boto3.session.Session:
        """django-storages' session, with S3's circuit breaker on its every attempt."""
        return aws.guarded(super()._create_session())

    # S3 unreachable, timed out (after config.aws's bounded retries) or its breaker open: a 503.
    def _save(self, name: str, content: File) -> str:
        with aws.outage_as_unavailable("s3"):
            return str(super()._save(name, content))

    def _open(self, name: str, mode: str = "rb") -> File:
        with aws.outage_as_unavailable("s3"):
            return super()._open(name, mode)

    def delete(self, name: str) -> None:
        with aws.outage_as_unavailable("s3"):
            super().delete(name)
