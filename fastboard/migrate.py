"""Run Alembic migrations programmatically (``fastboard migrate``, dev start-up, tests).

The configuration is built here, not read from an ini file: the scripts ship inside the
package (``fastboard/migrations``), so an installed wheel migrates from any directory.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastboard.resources import package_dir
from fastboard.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = "migrations"


def alembic_config(settings: Settings) -> Config:
    # Alembic announces each of its built-in plugins at INFO on first import: seven lines
    # of noise in every process. Imported here, not at the top, so that importing the app
    # (each Gunicorn worker does) loads no Alembic at all unless it migrates.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(package_dir(MIGRATIONS)))
    config.attributes["settings"] = settings
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Bring the schema to the newest revision. Blocking: call it from a thread when a
    loop is running (Alembic's env runs its own loop)."""
    config = alembic_config(settings)
    from alembic import command

    command.upgrade(config, "head")


def downgrade_to_base(settings: Settings) -> None:
    config = alembic_config(settings)
    from alembic import command

    command.downgrade(config, "base")
