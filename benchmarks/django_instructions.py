"""Django per-request cost in CPU instructions, counted by valgrind's callgrind.

A trivial Django view through a raw WSGI call of Django's own handler (no server, no
middleware), in three variants, each in its own process: bare Django, with this package
(its exporter drops what it gets, after building every envelope on its export thread),
and with ``opentelemetry-instrumentation-django`` and the SDK's batch processor (whose
exporter drops the spans). Each variant runs twice under callgrind, with one timed
request and with ``--requests`` more (``callgrind.py``, as every instructions benchmark):
the difference divided by ``--requests`` is what one request costs, export thread
included.
"""

from __future__ import annotations

import argparse

from callgrind import per_unit, print_against_bare, require_valgrind
from flask_overhead import VARIANT_ENV

VARIANT_CODE = r'''
import sys, time
variant, requests = sys.argv[1], int(sys.argv[2])
import django
from raw_wsgi import requester
from django.conf import settings
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[],
    INSTALLED_APPS=[], DATABASES={}, USE_TZ=True,
)

def order(request, pk):
    return HttpResponse("ok")

urlpatterns = [path("orders/<int:pk>/", order, name="order")]

if variant == "ours":
    from discarding import DiscardEvents
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument(exporters=[DiscardEvents()], service_name="bench")
elif variant == "official":
    from discarding import install_official_pipeline
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    install_official_pipeline()
    DjangoInstrumentor().instrument()

django.setup()
from django.core.handlers.wsgi import WSGIHandler

app = WSGIHandler()

one_request = requester(app, "/orders/42/", expect="200 OK")

for _ in range(1000):
    one_request()
started = time.perf_counter()
for _ in range(requests):
    one_request()
print((time.perf_counter() - started) / requests * 1e6)
'''

VARIANTS = {
    "bare": "bare Django",
    "ours": "eventlog-instrument",
    "official": "opentelemetry-instrumentation-django + SDK batch processor",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    require_valgrind("django_instructions.py")
    per_request = per_unit(VARIANT_CODE, VARIANTS, args.requests, VARIANT_ENV)
    print(f"Django per-request cost in instructions (callgrind, raw WSGI call, {args.requests} "
          "requests, export thread included):\n")
    print_against_bare(per_request, VARIANTS)


if __name__ == "__main__":
    main()
