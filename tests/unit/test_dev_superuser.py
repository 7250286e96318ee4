import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def test_creates_then_resets_the_development_superuser(capsys, rf):
    call_command("ensure_dev_superuser")
    assert "superuser created: username 'dev', password 'dev'" in capsys.readouterr().out
    user = get_user_model().objects.get(username="dev")
    user.set_password("changed")
    user.is_active = False
    user.save()

    call_command("ensure_dev_superuser")

    assert "superuser reset" in capsys.readouterr().out
    assert get_user_model().objects.count() == 1
    user = authenticate(rf.post("/accounts/login/"), username="dev", password="dev")
    assert user is not None
    assert user.is_superuser
    assert user.is_staff


def test_refused_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="DJANGO_ENV=production"):
        call_command("ensure_dev_superuser")

    assert not get_user_model().objects.exists()


def test_the_user_model_is_the_projects_own():
    assert get_user_model()._meta.label == "accounts.User"
