"""`python -m gateway.init`: bring the gateway's database to the latest migration (run before the first start).

Also where the staff commands learn whether the system's data is where the settings say, before they write.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from gateway import migrations
from gateway.settings import GatewaySettings
from shared.db import make_engine, wait_for_database
from shared.logging import configure_logging
from shared.private_files import owner_only_from_now
from shared.settings import load_settings_or_exit

DATABASE_FILE = "gateway.sqlite"


def missing_data(settings: GatewaySettings) -> str | None:
    """A sentence when the gateway's database should be in the data folder (VAR_DIR, by default the checkout's
    var/) but is not there: a command would otherwise create a new, empty system there and report success. None
    when it is there, or when GATEWAY_DATABASE_URL names a database of its own (a server, or another file)."""
    var_dir = settings.var_dir.resolve()
    url = make_url(settings.gateway_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    database = Path(url.database)
    if database != var_dir / DATABASE_FILE or database.exists():
        return None
    return (f"no Lotse data in {var_dir} (it has no {DATABASE_FILE}), so nothing was changed. Start Lotse once "
            "(bash scripts/run.sh) to create it, or set VAR_DIR to the folder where the system keeps its data "
            "(or GATEWAY_DATABASE_URL to its database).")


def main() -> None:
    owner_only_from_now()
    settings = load_settings_or_exit(GatewaySettings)
    configure_logging("gateway-init", settings.log_level)
    engine = make_engine(settings.gateway_database_url)
    wait_for_database(engine, "gateway-init")  # started before its database (a reboot), it waits for it
    migrations.upgrade(engine)


if __name__ == "__main__":
    main()
