import uuid
from typing import Self

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import models

from accounts.models import User


class DocumentQuerySet(models.QuerySet["Document"]):
    def visible_to(self, user: User | AnonymousUser) -> Self:
        """Staff see every document; anyone else those they uploaded. Anonymous clients, who get
        this far only where no login is required (`make dev`), share the anonymous uploads."""
        if user.is_staff:
            return self
        return self.filter(uploaded_by=user if user.is_authenticated else None)


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        PROCESSED = "processed"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, help_text="As declared by the uploader.")
    storage_key = models.CharField(max_length=1024, unique=True)
    size = models.PositiveBigIntegerField(
        help_text="Bytes; measured again from storage when processed."
    )
    sha256 = models.CharField(max_length=64, blank=True)
    detected_content_type = models.CharField(
        max_length=255, blank=True, help_text="Sniffed from the stored bytes when processed."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="documents",
        help_text="Empty for uploads where no login is required (`make dev`).",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=["-created_at"], name="document_created_idx"),)

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"
