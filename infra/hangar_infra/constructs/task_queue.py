"""The task queue and its dead-letter queue, where a message lands after max_receive_count tries."""

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hangar_infra.config import StageConfig
from hangar_infra.constructs.nag import acknowledge


class TaskQueue(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig) -> None:
        super().__init__(scope, id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=config.removal_policy,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is the dead-letter queue; its messages are inspected, not redriven again.",
        )
        self.queue = sqs.Queue(
            self,
            "Tasks",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(config.queue_visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=config.queue_max_receive_count
            ),
            removal_policy=config.removal_policy,
        )
