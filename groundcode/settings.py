"""All configuration in one place, read from the environment (prefix ``GROUNDCODE_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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

    embedding_model: str = Field(
        default="local:multilingual-e5-small",
        description="'local:multilingual-e5-small' (bundled, offline) or a litellm embedding model name, "
        "e.g. 'openai/text-embedding-3-small'. Changing it starts new, empty vector collections.",
    )
    embedding_api_base: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible embeddings server (litellm models only)."
    )
    embedding_api_key: SecretStr | None = Field(
        default=None, description="Key for the litellm model; default: the provider's own variable."
    )
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; unset means embedded Chroma in data_dir/chroma."
    )
    chroma_port: int = Field(default=8000, gt=0, lt=65536, description="Chroma server port.")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundcode.db').resolve()}"
