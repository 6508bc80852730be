"""All configuration in one place, read from the environment (prefix ``GROUNDCODE_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GROUNDCODE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default=Path("groundcode-data"), description="Where the embedded database lives.")
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; default is a SQLite file in data_dir.",
    )
    queue: Literal["inprocess", "redis"] = "inprocess"
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_prefix: str = Field(default="groundcode", description="Prefix of the Redis stream names.")

    lease_seconds: float = Field(default=120.0, gt=0, description="How long a worker owns a running item.")
    max_attempts: int = Field(default=3, ge=1, description="Attempts before a work item is marked failed.")
    sweep_interval_seconds: float = Field(default=15.0, gt=0)
    resend_pending_after_seconds: float = Field(
        default=600.0,
        gt=0,
        description="A pending item untouched this long is published again (its message may be lost).",
    )

    max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Largest file import accepts.")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundcode.db').resolve()}"
