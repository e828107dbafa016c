"""Run Alembic migrations programmatically (``fastboard migrate``, dev start-up, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from fastboard.settings import Settings

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def alembic_config(settings: Settings) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.attributes["settings"] = settings
    return config


def upgrade_to_head(settings: Settings) -> None:
    """Bring the schema to the newest revision. Blocking: call it from a thread when a
    loop is running (Alembic's env runs its own loop)."""
    command.upgrade(alembic_config(settings), "head")


def downgrade_to_base(settings: Settings) -> None:
    command.downgrade(alembic_config(settings), "base")
