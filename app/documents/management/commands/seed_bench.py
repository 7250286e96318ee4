"""`make bench`'s seed (`[tool.hangar.bench] seed-command`): a member with DOCUMENTS processed
documents (the first page full), and a session of theirs, whose cookie is the last line printed.

The documents page lists only what its viewer uploaded and requires a login outside development
(UPLOADS_REQUIRE_LOGIN), as in every deployed stage; the session is made the way
django.contrib.auth.login() makes it. Running it again adds nothing but a new session.
"""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core.management.base import BaseCommand

from documents.models import Document

MEMBER = "bench-member"
DOCUMENTS = 100


class Command(BaseCommand):
    help = "Seed the database `make bench` loads: a member, their documents, their session."

    def handle(self, *args: object, **options: object) -> None:
        users = get_user_model().objects
        member = users.filter(username=MEMBER).first() or users.create_user(MEMBER)
        Document.objects.bulk_create(
            (
                Document(
                    original_name=f"bench-{i}.pdf",
                    content_type="application/pdf",
                    storage_key=f"bench/{i}.pdf",
                    size=1000 + i,
                    status=Document.Status.PROCESSED,
                    uploaded_by=member,
                )
                for i in range(DOCUMENTS)
            ),
            ignore_conflicts=True,
        )
        session = import_module(settings.SESSION_ENGINE).SessionStore()
        session[SESSION_KEY] = str(member.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = member.get_session_auth_hash()
        session.save()
        self.stdout.write(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
