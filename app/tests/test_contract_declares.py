"""This app's `[tool.hangar]` declares what it needs: the documents bucket, the tasks queue with its
worker, the upload paths AWS WAF lets bodies through on, and the page its capacity is measured on.
(Hangar's own tests of those features use a project of their own: tests/declared_project.py.)"""

from hangar.core.contract import Bucket, Queue, contract


def test_the_contract_declares_what_the_app_reads() -> None:
    sample = contract()
    assert sample.service_name == "hangar"
    assert (sample.project_path / "manage.py").is_file()
    assert sample.buckets == (Bucket("documents", env="DOCUMENTS_BUCKET"),)
    assert sample.queues == (
        Queue(
            "tasks",
            env="TASKS_QUEUE_URL",
            dlq_env="TASKS_DLQ_URL",
            worker_command=("python", "manage.py", "worker"),
        ),
    )
    assert sample.worker_command == ("python", "manage.py", "worker")
    assert sample.upload_paths == ("/documents/", "/api/documents/")
    assert sample.capacity_path == "/documents/"
    # The app's settings read these three; the stack outputs are named after the declared names.
    assert sample.env_from_outputs == {
        "DOCUMENTS_BUCKET": "DocumentsBucketName",
        "TASKS_QUEUE_URL": "TasksQueueUrl",
        "TASKS_DLQ_URL": "TasksDlqUrl",
    }
