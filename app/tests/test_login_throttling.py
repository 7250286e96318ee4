"""Failed logins are throttled in every stage (django-axes), not only where the WAF stands."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.client_address import client_address

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"


def log_in(client: Client, password: str, *, address: str = ATTACKER, path: str = ""):
    return client.post(
        path or reverse("login"),
        {"username": "member", "password": password},
        REMOTE_ADDR=address,
    )


def test_thirty_failed_logins_back_to_back_are_throttled(client, member):
    statuses = [log_in(client, f"guess-{number}").status_code for number in range(30)]

    limit = django_settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form, saying the password is wrong
    assert set(statuses[limit:]) == {429}
    # Locked out means locked out: the right password does not get in either, for now.
    locked = log_in(client, "member-password")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_holds_one_username_from_one_address(client, member):
    for number in range(django_settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess-{number}")

    # The user, logging in from elsewhere, is not locked out by someone guessing their password.
    response = log_in(Client(), "member-password", address="198.51.100.7")

    assert response.status_code == 302


def test_the_admin_login_is_throttled_too(client, member):
    admin_login = reverse("admin:login")
    for number in range(django_settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess-{number}", path=admin_login)

    assert log_in(client, "member-password", path=admin_login).status_code == 429


def test_the_lockout_ends_after_its_cool_off(client, member):
    for number in range(django_settings.AXES_FAILURE_LIMIT):
        log_in(client, f"guess-{number}")
    assert log_in(client, "member-password").status_code == 429

    cooled_off = timezone.now() - django_settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=cooled_off)

    assert log_in(client, "member-password").status_code == 302


def test_behind_the_load_balancer_the_client_is_the_address_it_appended(rf, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The ALB appends the address it received the connection from; what precedes it, the client
    # wrote itself.
    request = rf.get("/", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.7", REMOTE_ADDR="10.0.1.5")

    assert client_address(request) == "198.51.100.7"


def test_without_a_load_balancer_forwarded_addresses_are_ignored(rf, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    request = rf.get("/", HTTP_X_FORWARDED_FOR="10.9.9.9", REMOTE_ADDR="127.0.0.1")

    assert client_address(request) == "127.0.0.1"
