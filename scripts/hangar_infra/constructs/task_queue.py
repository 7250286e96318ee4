"""The app's declared queues (`[tool.hangar.queues.<name>]`), each with its dead-letter queue,
where a message lands after max_receive_count tries."""

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hangar.core.contract import Queue
from hangar_infra.config import StageConfig
from hangar_infra.constructs.nag import acknowledge


@dataclass(frozen=True)
class TaskQueue:
    declared: Queue
    queue: sqs.Queue
    dead_letter_queue: sqs.Queue


class TaskQueues(Construct):
    """Every queue under one scope, named by its declared name's CamelCase form: `tasks` keeps the
    logical id (QueueTasks…) of stacks deployed before queues were declared."""

    def __init__(
        self, scope: Construct, id: str, *, config: StageConfig, declared: tuple[Queue, ...]
    ) -> None:
        super().__init__(scope, id)
        self.queues = tuple(self._queue(config, queue) for queue in declared)

    def _queue(self, config: StageConfig, declared: Queue) -> TaskQueue:
        dead_letter_queue = sqs.Queue(
            self,
            f"{declared.id}DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=config.removal_policy,
        )
        acknowledge(
            dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue; its messages are inspected, not redriven again.",
        )
        queue = sqs.Queue(
            self,
            declared.id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(config.queue_visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letter_queue, max_receive_count=config.queue_max_receive_count
            ),
            removal_policy=config.removal_policy,
        )
        return TaskQueue(declared=declared, queue=queue, dead_letter_queue=dead_letter_queue)
