"""Instrumenting on first use: the launcher's start-up hook waits for a module that needs it.

Every Python process started under the launcher runs the start-up hook, so what the hook
imports is paid by every subprocess of the program, even one that never handles a call.
Instead of the OpenTelemetry SDK and the exporters' clients, the hook imports this
module (the standard library's ``os`` and ``sys`` only) and puts a finder first on
``sys.meta_path``. Once a trigger module has been executed, the finder instruments the
process (once, from whichever thread imported it) and steps aside. The triggers:

* the module each registered instrumentor wraps first (its library's top-level package,
  by the instrumentor's entry-point name; :data:`TRIGGER_OF` names the exceptions);
* the modules through which a program can make an event without a framework:
  :data:`ALWAYS`.

Instrumenting after the trigger module has been executed is what wrapt's post-import
hooks do too, so a framework is wrapped at the same moment as when the hook
instrumented eagerly. An instrumentor registered by another distribution may wrap any
module, so when one is installed, :func:`triggers` returns ``None`` and the hook
instruments at start-up as before. Entry points are read from the ``entry_points.txt``
files directly: ``importlib.metadata`` alone costs more to import than the budget.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock, get_ident

from eventlog_instrument import TYPE_CHECKING
from eventlog_instrument.constants import INSTRUMENTORS_ENTRY_POINT_GROUP

if TYPE_CHECKING:  # not imported at run time: the start-up hook runs in every process
    from collections.abc import Callable, Iterable
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

OWN_INSTRUMENTORS = "eventlog_instrument.instrumentors."
TRIGGER_OF = {"urllib": "urllib.request"}
"""Instrumentors whose library is not imported by their entry-point name: ``urllib.parse``
is imported by most programs (and by this package's settings) and needs no instrumenting."""
ALWAYS = ("opentelemetry.trace", "eventlog_instrument.events", "eventlog_instrument.switch")
"""Spans the program makes itself, ``dispatch_event``, and asking the switch for its state."""
NEEDED_TO_START = ("eventlog_instrument.", "opentelemetry")
"""Prefixes of the modules instrumenting imports (``opentelemetry`` with its SDK)."""
_GROUP_HEADER = f"[{INSTRUMENTORS_ENTRY_POINT_GROUP}]"


def triggers(paths: Iterable[str] | None = None) -> frozenset[str] | None:
    """Modules whose import instruments the process; ``None`` when it must be at once."""
    names = registered_instrumentors(sys.path if paths is None else paths)
    if any(not value.startswith(OWN_INSTRUMENTORS) for value in names.values()):
        return None
    return frozenset([*(TRIGGER_OF.get(name, name) for name in names), *ALWAYS])


def registered_instrumentors(paths: Iterable[str]) -> dict[str, str]:
    """``{name: "module:Class"}`` of the instrumentor entry points installed on ``paths``."""
    found: dict[str, str] = {}
    for entry in paths:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for name in listing:
            if name.endswith((".dist-info", ".egg-info")):
                found.update(_group_entries(os.path.join(entry, name, "entry_points.txt")))
    return found


def _group_entries(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, ValueError):
        return {}
    if _GROUP_HEADER not in text:
        return {}
    entries: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == _GROUP_HEADER and "=" in line:
            name, _, value = line.partition("=")
            entries[name.strip()] = value.strip()
    return entries


class StartOnImport:
    """A ``sys.meta_path`` finder that runs ``start`` once a trigger module has executed.

    Instrumenting imports this package's modules and OpenTelemetry's; a trigger imported
    while one of those is half-executed on the same thread (``opentelemetry.trace`` by
    the switch, say) waits until the outermost of them has finished, or instrumenting
    would find it half-built.
    """

    def __init__(self, modules: frozenset[str], start: Callable[[], None]) -> None:
        self._modules = modules
        self._start = start
        self._lock = allocate_lock()
        self._started = False
        self._wanted = False
        self._depth: dict[int, int] = {}
        """Imports of the modules instrumenting needs in progress, per thread."""

    def install(self) -> None:
        sys.meta_path.insert(0, self)

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if self._started:
            return None
        trigger = fullname in self._modules
        needed = fullname.startswith(NEEDED_TO_START)
        if not (trigger or needed):
            return None
        spec = self._spec_elsewhere(fullname, path, target)
        if spec is None:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            watched = _Watched(spec.loader, self, trigger=trigger, needed=needed)
            # a loader by its methods: subclassing importlib.abc.Loader imports typing
            spec.loader = watched  # type: ignore[assignment]
        elif trigger:
            self._wanted = True
        return spec

    def _spec_elsewhere(
        self, fullname: str, path: Any, target: ModuleType | None
    ) -> ModuleSpec | None:
        for finder in list(sys.meta_path):
            find: Callable[..., ModuleSpec | None] | None = (
                getattr(finder, "find_spec", None) if finder is not self else None
            )
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                return spec
        return None

    def entered(self) -> None:
        thread = get_ident()
        self._depth[thread] = self._depth.get(thread, 0) + 1

    def left(self) -> None:
        thread = get_ident()
        self._depth[thread] -= 1
        if not self._depth[thread]:
            del self._depth[thread]

    def executed(self, trigger: bool) -> None:
        """A watched module finished executing: start, if a trigger asked and it is time."""
        self._wanted = self._wanted or trigger
        if self._wanted and get_ident() not in self._depth:
            self.start()

    def start(self) -> None:
        """Instrument, once; a second thread importing a trigger waits for the first."""
        with self._lock:
            if self._started:
                return
            self._started = True
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            self._start()


class _Watched:
    """The module's own loader, then :meth:`StartOnImport.executed`. The module keeps its
    own loader as ``__loader__`` and ``__spec__.loader``, for resource readers."""

    def __init__(self, loader: Any, finder: StartOnImport, *, trigger: bool, needed: bool):
        self._loader = loader
        self._finder = finder
        self._trigger = trigger
        self._needed = needed

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create: Callable[[ModuleSpec], ModuleType | None] | None = getattr(
            self._loader, "create_module", None
        )
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        if self._needed:
            self._finder.entered()
        try:
            self._loader.exec_module(module)
        finally:
            if self._needed:
                self._finder.left()
        self._finder.executed(self._trigger)
