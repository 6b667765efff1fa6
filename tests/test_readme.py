"""The README's configuration table is the settings table, generated."""

from __future__ import annotations

from eventlog_instrument.settings import settings_table_markdown
from tests.support.paths import TESTS

START = "<!-- settings-table: generated from eventlog_instrument/settings.py; tests/test_readme.py keeps it in step -->\n"
END = "<!-- end settings-table -->"


def test_readme_configuration_table_is_generated_from_the_settings_table():
    readme = (TESTS.parent / "README.md").read_text()
    table = readme[readme.index(START) + len(START) : readme.index(END)]
    assert table == settings_table_markdown(), (
        "README.md's configuration table is stale: regenerate it with nox -s docs"
    )
