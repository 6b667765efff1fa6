"""The ``djshop`` test project set up in this process, for in-process Django tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def djshop_handler_class() -> Iterator[Any]:
    """Django set up with the ``djshop`` settings; yields the WSGI handler class."""
    import django

    previous = os.environ.get("DJANGO_SETTINGS_MODULE")
    os.environ["DJANGO_SETTINGS_MODULE"] = "djshop.settings"
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    try:
        yield WSGIHandler
    finally:
        if previous is None:
            del os.environ["DJANGO_SETTINGS_MODULE"]
