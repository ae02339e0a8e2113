"""WSGI entry point (gunicorn governance.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
application = get_wsgi_application()

# A different PSEUDONYM_KEY would silently hide every data subject: refuse to serve instead (see keycheck).
from governance.data.keycheck import stop_if_key_changed  # noqa: E402

stop_if_key_changed()
