from django.urls import path

from documents import api, views

app_name = "documents"

urlpatterns = [
    path("documents/", views.index, name="index"),
    path("api/documents/", api.document_collection, name="api-list"),
    path("api/documents/<uuid:document_id>/", api.document_detail, name="api-detail"),
]
