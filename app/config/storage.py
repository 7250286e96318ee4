"""The documents' S3 storage: django-storages' backend with the app's AWS timeouts (config.aws).

A subclass rather than a `client_config` in settings: building botocore's Config there would
import botocore into every process at start-up (about 0.1 s of each dev-server reload), whether
or not it ever touches S3. Django imports this module on the first use of the storage.
"""

from typing import Any

from storages.backends.s3 import S3Storage

from config import aws


class DocumentStorage(S3Storage):
    def get_default_settings(self) -> dict[str, Any]:
        return {
            **super().get_default_settings(),
            "client_config": aws.client_config(),
        }
