"""`python -m gateway.init`: bring the gateway's database to the latest migration (run before the first start)."""

from __future__ import annotations

from gateway import migrations
from gateway.settings import GatewaySettings
from shared.db import make_engine
from shared.settings import load_settings_or_exit

if __name__ == "__main__":
    migrations.upgrade(make_engine(load_settings_or_exit(GatewaySettings).gateway_database_url))
