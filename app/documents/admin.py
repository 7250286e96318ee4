from django.contrib import admin

from documents.models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "original_name",
        "status",
        "uploaded_by",
        "content_type",
        "detected_content_type",
        "size",
        "created_at",
    )
    list_filter = ("status", "detected_content_type")
    search_fields = ("original_name", "sha256", "storage_key")
    readonly_fields = (
        "id",
        "uploaded_by",
        "storage_key",
        "size",
        "sha256",
        "detected_content_type",
        "created_at",
        "updated_at",
        "processed_at",
    )
