"""docs/privacy.md says what is stored where: every `table.column` it names exists in that service's tables, and
every table of every service is named there (a new table needs a line saying what it holds and for how long)."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.tables import TABLES as GATEWAY_TABLES
from notifier.tables import TABLES as NOTIFIER_TABLES
from scheduler.tables import TABLES as SCHEDULER_TABLES
from sqlalchemy import Table

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
SERVICES = {"gateway": GATEWAY_TABLES, "scheduler": SCHEDULER_TABLES, "notifier": NOTIFIER_TABLES}
NAMED = re.compile(r"`([a-z_]+)(?:\.([a-z_]+))?`")


def _sections(text: str) -> dict[str, str]:
    """Each service's part of the page, in both languages: from its heading to the next heading."""
    parts: dict[str, str] = {}
    for heading, body in re.findall(r"^### (\w+) \(\w+ `\w+`\)\n(.*?)(?=^### |\Z)", text, re.MULTILINE | re.DOTALL):
        parts[heading.lower()] = parts.get(heading.lower(), "") + body
    return parts


def _columns(tables: list[Table]) -> dict[str, set[str]]:
    return {table.name: {column.name for column in table.columns} for table in tables}


def test_the_page_has_a_part_for_each_service_in_both_languages() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "## Deutsch" in text and "## English" in text
    assert set(_sections(text)) == set(SERVICES)


def test_every_column_the_page_names_exists_in_that_service() -> None:
    sections = _sections(DOC.read_text(encoding="utf-8"))
    for service, tables in SERVICES.items():
        columns = _columns(tables)
        for table, column in NAMED.findall(sections[service]):
            if table not in columns:
                continue  # a value such as `erased_by_client` or a setting's name
            assert not column or column in columns[table], f"{service}: {table}.{column} is not a column"


def test_every_table_of_every_service_is_named_on_the_page() -> None:
    sections = _sections(DOC.read_text(encoding="utf-8"))
    for service, tables in SERVICES.items():
        named = {table for table, _column in NAMED.findall(sections[service])}
        assert set(_columns(tables)) <= named, f"{service}: {set(_columns(tables)) - named} not on the page"
