import os
import time

import requests
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views import View
from opentelemetry import trace
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from eventlog_instrument import dispatch_event

ITEMS = {1: "apple", 2: "pear"}


def get_order(request, pk):
    trace.get_current_span().set_attribute("tenant", "acme")
    dispatch_event("order_viewed", {"order_id": pk})
    return JsonResponse({"id": pk})


class ReportView(View):
    def get(self, request):
        return JsonResponse({"report": "ok"})


def boom(request):
    raise RuntimeError("kaput")


def stream(request):
    def chunks():
        for number in range(3):
            time.sleep(0.05)
            yield f"{number}\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def stream_events(request):
    def chunks():
        for number in range(2):
            dispatch_event("chunk_sent", {"number": number})
            yield f"{number}\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def download(request):
    return FileResponse(open(os.path.join(os.path.dirname(__file__), "download.txt"), "rb"))


def health(request):
    return HttpResponse("ok")


def chain(request, value):
    """Enqueues a Celery task and calls a Flask service: both continue this call's stack."""
    import celery_app

    task = celery_app.add.apply_async((value, value), queue=os.environ["DJSHOP_TASK_QUEUE"])
    answer = requests.get(f"{os.environ['DJSHOP_FLASK_URL']}/orders/{value}", timeout=10)
    return JsonResponse({"task_id": task.id, "flask": answer.json()})


class ItemViewSet(viewsets.ViewSet):
    def list(self, request):
        return Response(sorted(ITEMS.values()))

    def retrieve(self, request, pk=None):
        if pk == "0":
            raise KeyError("no item 0")
        if not pk.isdigit() or int(pk) not in ITEMS:
            raise NotFound("no such item")
        return Response({"id": int(pk), "name": ITEMS[int(pk)]})


def json_500_handler(exc, context):
    """A DRF exception handler that answers every exception itself (a common pattern)."""
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    return Response({"detail": "internal"}, status=500) if response is None else response
