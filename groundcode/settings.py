"""All configuration in one place, read from the environment (prefix ``GROUNDCODE_``) or a ``.env`` file."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from groundcode.bounded import ParseBounds

SECRETS_DIR_VARIABLE = "GROUNDCODE_SECRETS_DIR"
TOKEN_LIFETIME = timedelta(days=90)
"""How long an API token lasts unless its creator says otherwise."""
"""A directory of secret files, one per setting, named like its variable in lower case (e.g.
``groundcode_llm_api_key``, ``database_url``): Docker and Kubernetes secrets. The environment wins."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GROUNDCODE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, ``.env``, and the files in ``GROUNDCODE_SECRETS_DIR``."""
        secrets_dir = os.environ.get(SECRETS_DIR_VARIABLE)
        secrets = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir) if secrets_dir else None
        return tuple(source for source in (init_settings, env_settings, dotenv_settings, secrets) if source)

    service_token: SecretStr | None = Field(
        default=None,
        description="When set, the operations routes (/work-items, /work-items/retry, /metrics) answer only "
        "requests with 'Authorization: Bearer <this token>' (monitoring and other services) or from "
        "instance administrators (groundcode user admin).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="'json': one JSON object per log line, with the work item and stage."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of groundcode's log handler."
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
    parse_memory_bytes: int = Field(
        default=2 * 1024**3, gt=0, description="Memory (address space) the process reading one file may use."
    )
    parse_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Longest time reading one file may take."
    )

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
    embedding_cache_dir: Path | None = Field(
        default=None,
        description="Where embeddings are cached by content hash, so no text is embedded twice; default: "
        "data_dir/embedding-cache.",
    )
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; unset means embedded Chroma in data_dir/chroma."
    )
    chroma_port: int = Field(default=8000, gt=0, lt=65536, description="Chroma server port.")

    suggestion_mode: Literal["deductive", "inductive", "both"] = Field(
        default="deductive",
        description="'deductive' (codes of the latest codebook), 'inductive' (new labels) or 'both'.",
    )
    suggestion_backend: Literal["offline", "llm"] = Field(
        default="offline", description="'offline' (no language model) or 'llm' (needs llm_model)."
    )
    suggestion_candidates: int = Field(default=10, ge=1, description="Codebook candidates per segment.")
    suggestion_exemplars: int = Field(default=5, ge=0, description="Similar coded segments per segment.")
    suggestion_feedback: int = Field(
        default=8, ge=0, description="The coder's latest decisions an LLM prompt shows as examples."
    )
    suggestion_batch_size: int = Field(default=64, ge=1, description="Segments retrieved and stored at once.")
    llm_model: str | None = Field(
        default=None, description="litellm chat model for suggestions, e.g. 'openai/qwen2.5-7b-instruct'."
    )
    llm_api_base: str | None = Field(
        default=None, description="Base URL of the chat server (e.g. llama.cpp)."
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        description="Key for the chat model, from the environment or the secrets directory only; default: "
        "the provider's own variable (e.g. OPENAI_API_KEY).",
    )
    llm_allow_remote: bool = Field(
        default=False, description="Consent to send transcript text to a model off this machine."
    )
    llm_redact_names: list[str] = Field(
        default_factory=list,
        description="Participant names masked (with e-mails and phone numbers) before text goes to a remote "
        'model; JSON list in the environment, e.g. \'["Sara", "Ali"]\'.',
    )
    llm_temperature: float = Field(default=0.0, ge=0.0)
    llm_batch_size: int = Field(default=1, ge=1, description="Segments per LLM call.")
    llm_json_mode: Literal["json_schema", "json_object"] = "json_schema"
    llm_concurrency: int = Field(default=4, ge=1, description="LLM calls in flight.")
    llm_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Per call, including time queued at the server: raise it for CPU inference (a llama.cpp "
        "server answers one call at a time, so with concurrency 4 the last waits for three others).",
    )
    llm_max_tokens: int = Field(
        default=768, ge=16, description="Answer tokens per segment, sent as max_tokens on every call."
    )
    llm_prompt_variant: Literal["reason_first", "label_first", "per_code"] = Field(
        default="reason_first",
        description="'reason_first' (rationale before the code), 'label_first', or 'per_code' (a yes/no "
        "decision per code: for small codebooks). Each is a template file in prompts/.",
    )
    llm_codebook_token_budget: int = Field(
        default=2500,
        ge=0,
        description="Offer the whole codebook when it fits this many tokens, else the shortlist.",
    )
    llm_samples: int = Field(
        default=1, ge=1, description="Answers per segment; a suggestion's confidence is their agreement."
    )

    def parse_bounds(self) -> ParseBounds:
        """The memory and time bound of the process that reads one imported file."""
        return ParseBounds(memory_bytes=self.parse_memory_bytes, seconds=self.parse_timeout_seconds)

    def resolved_embedding_cache_dir(self) -> Path:
        return self.embedding_cache_dir or self.data_dir / "embedding-cache"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundcode.db').resolve()}"
