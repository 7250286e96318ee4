"""The documents workload on the compose stack `make dev` runs: an upload travels web → S3 → SQS →
worker (the stack and its local stage come from hangar.testing.containers)."""

import hashlib
import uuid

import pytest
from documents_client import Session, local_s3, until_handled, upload_text
from hangar.testing.containers import Compose

pytestmark = pytest.mark.e2e


def test_an_upload_is_stored_in_s3_and_processed_by_the_worker(
    stack: Compose, local_stage: dict[str, str], dev_user: tuple[str, str]
) -> None:
    session = Session(f"http://127.0.0.1:{stack.ports['WEB_PORT']}", *dev_user)
    body = f"e2e upload {uuid.uuid4()}\n".encode()
    document = upload_text(session, "e2e.txt", body)

    s3 = local_s3(stack.ports["LOCALSTACK_PORT"])
    stored = s3.get_object(Bucket=local_stage["DOCUMENTS_BUCKET"], Key=document["storage_key"])
    assert stored["Body"].read() == body

    document = until_handled(session, document, timeout=60)
    assert document["status"] == "processed", f"{document}\n{stack.logs()}"
    # Only processing reads the object back from S3 and hashes it.
    assert document["sha256"] == hashlib.sha256(body).hexdigest()
    assert document["id"] in stack.run("logs", "--no-color", "worker").stdout
