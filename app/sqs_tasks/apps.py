from django.apps import AppConfig


class SqsTasksConfig(AppConfig):
    name = "sqs_tasks"
    verbose_name = "Tasks on Amazon SQS"
