"""WSGI entry point: `[tool.hangar] wsgi-application`, which gunicorn serves in the image."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
