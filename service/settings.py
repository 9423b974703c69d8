"""Service settings: one pydantic-settings class, read from ``ADBANDIT_*`` environment variables.

==================================  =====================================================
variable                            meaning (default)
==================================  =====================================================
``ADBANDIT_DATA_DIR``               folder for the default SQLite file (``./var``)
``ADBANDIT_DATABASE_URL``           any SQLAlchemy URL, e.g.
                                    ``postgresql+psycopg://user@127.0.0.1:5432/adbandit``
                                    (``sqlite:///<data_dir>/adbandit.db``)
``ADBANDIT_AUTO_MIGRATE``           upgrade the schema to the newest revision on start
                                    (``true``)
``ADBANDIT_TRACKING``               log every recommendation to MLflow, off the request
                                    path (``true``)
``ADBANDIT_TRACKING_URI``           MLflow tracking URI (MLflow's own
                                    ``MLFLOW_TRACKING_URI``, else ``mlruns/mlflow.db``)
``ADBANDIT_TRACKING_QUEUE``         recommendations waiting to be logged before new ones
                                    are skipped (``1000``)
``ADBANDIT_MLFLOW_UI_URL``          where people open MLflow's UI, for links (none)
``ADBANDIT_MAX_UPLOAD_MB``          largest accepted stats upload (``200``)
``ADBANDIT_COMPUTE_SLOTS``          recommendations computed at once per process; more
                                    wait their turn (``2``)
==================================  =====================================================
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Settings for the HTTP service and the ``adbandit`` commands that touch its database."""

    model_config = SettingsConfigDict(env_prefix="ADBANDIT_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="folder for the default SQLite file")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL")
    auto_migrate: bool = True
    tracking: bool = True
    tracking_uri: str | None = None
    tracking_queue: int = Field(default=1000, ge=1)
    mlflow_ui_url: str | None = None
    max_upload_mb: float = Field(default=200.0, gt=0)
    compute_slots: int = Field(default=2, ge=1)

    @property
    def url(self) -> str:
        """The database URL in use: the setting, or a SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'adbandit.db').resolve()}"
