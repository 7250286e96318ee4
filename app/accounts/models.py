from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user from the first migration on, so fields can be added without the
    mid-project swap Django's documentation warns about."""
