"""Middleware the in-process tests switch on with ``override_settings``."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction


class AsyncOnly:
    """Async-only (``sync_capable = False``): under WSGI Django adapts the chain with
    asgiref, and resolves the URL in a copied context."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    async def __call__(self, request):
        return await self.get_response(request)
