"""Development-server wiring that belongs to no feature app (development only)."""

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.utils.autoreload import BaseReloader, autoreload_started


class DevServerConfig(AppConfig):
    name = "config"
    label = "dev_server"
    verbose_name = "Development server"

    def ready(self) -> None:
        autoreload_started.connect(watch_env_file, dispatch_uid="config.apps.watch_env_file")


def watch_env_file(sender: BaseReloader, **kwargs: Any) -> None:
    """Restart runserver when `make deploy-local` rewrites the env file the settings read.

    The stack's bucket and queue names then apply at once, e.g. in the dev container, whose server
    starts before its post-start command deploys the stage. The directory is created so the
    reloader can watch for a file that does not exist yet.
    """
    path = settings.LOCAL_ENV_FILE.resolve()
    try:
        path.parent.mkdir(exist_ok=True)
    except OSError:
        return  # a read-only checkout: nothing will write the file here either
    sender.extra_files.add(path)
