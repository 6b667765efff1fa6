"""A third-party exporter installed the way pip would, in a folder put on PYTHONPATH."""

from __future__ import annotations

import textwrap
from pathlib import Path


def install_exporter(folder: Path, name: str, module_source: str) -> None:
    """Make ``<name>_exporter.py`` (``module_source``, which defines ``PigeonExporter``-style
    class ``<Name>Exporter``) importable from ``folder`` and register it under the
    ``eventlog_instrument.exporters`` entry-point group as ``name``."""
    module = f"{name}_exporter"
    (folder / f"{module}.py").write_text(textwrap.dedent(module_source))
    dist_info = folder / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}-exporter\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[eventlog_instrument.exporters]\n{name} = {module}:{name.title()}Exporter\n"
    )
