"""What every instrumentor shares: wrapping its targets with wrapt, reversibly.

An instrumentor declares its targets as data, ``(module, "Class.method", "hook")``,
and keeps one wrapper method per hook. Targets are wrapped through wrapt's post-import
hooks, so a module imported after ``instrument()`` is wrapped when it is imported and
nothing is imported early (Nameko must be able to monkey-patch with eventlet first).
``instrument()`` and ``uninstrument()`` are idempotent and exact inverses: the
original attribute is put back, so instrument, uninstrument, instrument leaves
exactly one wrapper.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Set
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any, ClassVar

import wrapt
from opentelemetry import propagate
from opentelemetry.context import Context
from wrapt.patches import resolve_path

from eventlog_instrument.settings import Settings

_logger = logging.getLogger(__name__)

_INHERITED = object()
"""Marks a wrapped attribute that the class inherited rather than defined itself."""
NEW_TRACE = Context()
"""The parent context of a call that came without trace headers: a trace of its own."""


_propagator_fields: tuple[object, frozenset[str]] = (None, frozenset())
"""The global propagator last asked and its fields."""


def propagation_fields() -> frozenset[str]:
    """The carrier keys the global propagator reads (``traceparent``, ``b3``, ...).

    Asked once per propagator: a composite propagator builds new sets on every read of
    its ``fields``, about 1 µs a call.
    """
    global _propagator_fields
    propagator = propagate.get_global_textmap()
    seen, fields = _propagator_fields
    if propagator is not seen:
        fields = frozenset(propagator.fields)
        _propagator_fields = (propagator, fields)
    return fields


def propagated_context(
    carrier: Mapping[str, Any], fields: Set[str], otherwise: Context | None
) -> Context | None:
    """The trace context the global propagator finds in ``carrier``, or ``otherwise``
    when none of its ``fields`` (:func:`propagation_fields`) came, or they are malformed.

    Extracting from a carrier without them costs several µs a call for nothing. Only
    text values are offered to the propagator (a task header can hold an int, say), and
    a propagator that fails on what it is given starts a fresh trace: the headers came
    from outside, and a malformed one must never cost the call its span.
    """
    if carrier.keys().isdisjoint(fields):
        return otherwise
    text_fields = {key: carrier[key] for key in fields if type(carrier.get(key)) is str}
    if not text_fields:
        return otherwise
    try:
        return propagate.extract(text_fields)
    except Exception:
        _logger.debug("eventlog_instrument: ignored malformed trace headers", exc_info=True)
        return otherwise


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
