"""Every setting chainmatch reads, in one frozen object built once (in the CLI) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REGION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,3}){0,2}$"
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000)


class ApiKey(BaseModel):
    """What one API key may do: CONTRACT section 4."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["staff", "platform", "company"]
    name: str | None = None
    entity_id: str | None = None
    region: str | None = Field(default=None, pattern=REGION_PATTERN)

    @field_validator("entity_id")
    @classmethod
    def _company_needs_entity(cls, value: str | None, info) -> str | None:
        if info.data.get("role") == "company" and not value:
            raise ValueError("a company key needs an entity_id")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHAINMATCH_", env_file=".env", frozen=True, extra="ignore"
    )

    kafka_bootstrap: str | None = None
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    data_dir: Path = Path("data")
    # The workers' state (partnership records, decisions, feedback, de-duplication marks, the journal,
    # dead letters, counts): PostgreSQL when set (postgresql://user:password@host/db), shared by every
    # process on any machine; unset, SQLite in the data dir (state.db), for one host.
    state_url: SecretStr | None = None
    # The PostgreSQL schema that holds it, so that deployments can share a database.
    state_schema: str = Field(default="chainmatch", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    model: str | None = None
    # BLAS threads of the default encoder's child process: one leaves the other core to the API.
    model_threads: int = Field(default=1, ge=1, le=64)
    api_keys: dict[str, ApiKey] = Field(default_factory=dict)
    topic_prefix: str = "chain."
    webhook_allow_private: bool = False
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_SCHEDULE

    # Not in the contract's environment table, but settable the same way.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    kafka_port: int = Field(default=9092, ge=0, le=65535)
    topic_partitions: int = Field(default=4, ge=1)
    # Tansu takes about half the session timeout to join a group; faust's 60 s default means 30 s.
    consumer_session_timeout_s: float = Field(default=6.0, gt=0)
    batch_size: int = Field(default=64, ge=1)
    batch_timeout_s: float = Field(default=0.2, gt=0)
    # `all`: one worker does everything. Several replicas run `ingest` (spread over the partitions)
    # beside exactly one `partnerships` worker, which owns the partnership records and decisions.
    worker_role: Literal["all", "ingest", "partnerships"] = "all"
    # Partnerships are recomputed once the input is idle this long, or at least this often under load.
    settle_idle_s: float = Field(default=0.5, gt=0)
    settle_max_wait_s: float = Field(default=5.0, gt=0)
    collection: str = "chainmatch"
    # Per key and API process, on suggestions, semantic search (`q`) and POST /v1/events: a burst of
    # this many requests, refilled at this rate; 0 per minute: no limit.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_burst: int = Field(default=60, ge=1)
    # De-duplication marks, and the outbox rows and settles they point to, are kept this long and at
    # most this many (each table); the same (source, id) seen again after that is applied again.
    retention_days: float = Field(default=7.0, gt=0)
    retention_rows: int = Field(default=1_000_000, ge=1)
    # At a stop of `up`, how long the workers may go on taking what is left on the embedded broker
    # (which forgets it); they stop sooner once no batch has come for a second.
    stop_drain_s: float = Field(default=10.0, ge=0)

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return tuple(float(p) for p in parts)
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_non_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be >= 0 seconds")
        return value

    @field_validator("state_url")
    @classmethod
    def _state_url_is_postgres(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("the state URL must be a PostgreSQL one: postgresql://user:password@host:5432/db")
        return value

    @field_validator("model")
    @classmethod
    def _hashing_has_a_dimension(cls, value: str | None) -> str | None:
        if value and value.startswith("hashing:") and not value.removeprefix("hashing:").isdigit():
            raise ValueError("write the test embedder as hashing:<dimension>, e.g. hashing:384")
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_topic_safe(cls, value: str) -> str:
        if not all(c.isalnum() or c in "._-" for c in value):
            raise ValueError("topic prefix may hold only letters, digits, '.', '_' and '-'")
        return value

    def topic(self, name: str) -> str:
        """The full topic name, e.g. topic('companies.v1') -> 'chain.companies.v1'."""
        return f"{self.topic_prefix}{name}"

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"
