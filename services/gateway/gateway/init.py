"""`python -m gateway.init`: create the gateway's tables (run before the first start)."""

from __future__ import annotations

from gateway.tables import TABLES
from shared.db import create_tables, make_engine
from shared.settings import load_settings_or_exit

if __name__ == "__main__":
    create_tables(make_engine(load_settings_or_exit().gateway_database_url), TABLES)
