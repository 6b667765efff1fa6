"""What every instrumentor shares: wrapping its targets with wrapt, reversibly.

An instrumentor declares its targets as data, ``(module, "Class.method", "hook")``,
and keeps one wrapper method per hook. Targets are wrapped through wrapt's post-import
hooks, so a module imported after ``instrument()`` is wrapped when it is imported and
nothing is imported early (Nameko must be able to monkey-patch with eventlet first).
``instrument()`` and ``uninstrument()`` are idempotent and exact inverses: the
original attribute is put back, so instrument, uninstrument, instrument leaves
exactly one wrapper.

What a hook does once it is called (guarding the application from the package's
errors, starting and ending a call, propagation) is in
:mod:`eventlog_instrument.instrumentors.hooks`; reading a WSGI request is in
:mod:`eventlog_instrument.instrumentors.wsgi`.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from wrapt.patches import resolve_path

from eventlog_instrument.instrumentors.hooks import configured_service_name
from eventlog_instrument.settings import Settings

_logger = logging.getLogger(__name__)

_INHERITED = object()
"""Marks a wrapped attribute that the class inherited rather than defined itself."""


def version_tuple(text: str) -> tuple[int, ...]:
    """``"3.0.0rc11"`` -> ``(3, 0, 0)``: the leading numeric release segments."""
    parts = []
    for part in text.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(parts)


class FrameworkInstrumentor:
    """Wraps :attr:`targets` while instrumented; subclasses add one wrapper per hook."""

    name: ClassVar[str]
    """Name in ``EVENTLOG_DISABLED_INSTRUMENTATIONS`` and the entry-point group."""
    library: ClassVar[str]
    """Distribution that must be installed for this instrumentor to apply."""
    supported: ClassVar[tuple[tuple[int, ...], tuple[int, ...]]]
    """Supported library versions: (lowest, first unsupported)."""
    targets: ClassVar[tuple[tuple[str, str, str], ...]]
    """``(module, "Class.method", hook)``: wrap the method with ``self.<hook>``."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.configured_service_name: str | None = None
        """``EVENTLOG_SERVICE_NAME`` when set; else the framework names the service."""
        self._active = False
        self._originals: dict[tuple[str, str], tuple[Any, str, Any]] = {}
        self._hooks_registered: set[str] = set()

    @property
    def is_instrumented(self) -> bool:
        return self._active

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this instrumentor cannot apply here, or ``None`` when it can."""
        try:
            installed = version(cls.library)
        except PackageNotFoundError:
            return f"{cls.library} is not installed"
        lowest, first_unsupported = cls.supported
        if not lowest <= version_tuple(installed) < first_unsupported:
            supported = (
                f">={'.'.join(map(str, lowest))},<{'.'.join(map(str, first_unsupported))}"
            )
            return f"{cls.library} {installed} is outside the supported range {supported}"
        return None

    def instrument(self, settings: Settings) -> None:
        if self._active:
            return
        self.settings = settings
        self.configured_service_name = configured_service_name(settings)
        self._active = True
        for module_name in dict.fromkeys(module for module, _, _ in self.targets):
            if module_name in sys.modules:
                self._wrap_module(sys.modules[module_name])
            elif module_name not in self._hooks_registered:
                self._hooks_registered.add(module_name)
                wrapt.register_post_import_hook(self._wrap_module, module_name)

    def uninstrument(self) -> None:
        if not self._active:
            return
        self._active = False
        for parent, attribute, own in self._originals.values():
            if own is _INHERITED:
                delattr(parent, attribute)
            else:
                setattr(parent, attribute, own)
        self._originals.clear()

    def _wrap_module(self, module: ModuleType) -> None:
        if not self._active:
            return
        for module_name, path, hook in self.targets:
            if module_name != module.__name__ or (module_name, path) in self._originals:
                continue
            try:
                parent, attribute, original = resolve_path(module, path)
            except AttributeError:
                _logger.info("eventlog_instrument: %s has no %s; not wrapped", module_name, path)
                continue
            own = vars(parent).get(attribute, _INHERITED)
            self._originals[(module_name, path)] = (parent, attribute, own)
            setattr(parent, attribute, wrapt.FunctionWrapper(original, getattr(self, hook)))
