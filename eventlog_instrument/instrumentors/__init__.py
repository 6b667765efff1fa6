"""Instrumentors: framework hooks that turn calls into spans.

Built in: ``nameko``, ``flask`` and ``celery`` (entrypoints), and ``requests``,
``urllib3``, ``httpx`` and ``urllib`` (outgoing HTTP: propagation headers only).
:mod:`.registry` finds them, and third-party ones, by entry point. What every
instrumentor shares is in :mod:`.framework`, :mod:`.hooks` and :mod:`.wsgi`; an
instrumentor's own settings are declared beside it (``http_settings.py``,
``nameko_settings.py``).
"""
