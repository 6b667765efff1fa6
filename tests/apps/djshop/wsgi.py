"""The project's WSGI module, instrumented in code after the handler exists (under the
launcher, which has instrumented already, the call does nothing)."""

import os

from django.core.wsgi import get_wsgi_application

from eventlog_instrument import EventLogInstrumentor

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djshop.settings")
application = get_wsgi_application()
EventLogInstrumentor().instrument()
