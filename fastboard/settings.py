"""Configuration: one typed settings class, read from ``FASTBOARD_*`` variables and ``.env``."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/fastboard.db"

# A page served from any port of this machine: a RealWorld frontend's dev server.
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FASTBOARD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = "development"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr | None = None
    # Key rotation: the keys that signed before ``secret_key`` (a JSON list). Tokens they
    # signed are still accepted until ``previous_keys_valid_until`` (required with them,
    # so an old key never verifies for good): the rotation's time plus a grace period.
    previous_secret_keys: list[SecretStr] = []
    previous_keys_valid_until: datetime | None = None
    jwt_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    var_dir: Path = Path("var")

    # Per worker. Reads borrow a connection per statement, writes for their transaction,
    # so a worker needs about as many as it has statements in flight: 16 covers 32
    # clients on 2 workers. No overflow by default: SQLAlchemy closes an overflow
    # connection as soon as it is returned, so steady load above the pool size opened and
    # closed connections continuously (5 + 5 did under 32 clients; bench/README.md).
    # 5 workers (2 x 2 cores + 1) x 16 = 80 stays under PostgreSQL's default
    # max_connections of 100; more workers need a smaller pool or a larger server limit.
    db_pool_size: int = Field(default=16, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=5.0, gt=0)
    # Retire pooled connections after this many seconds, before a firewall, NAT or load
    # balancer idle timeout (often 5 minutes) drops them silently; -1: never.
    db_pool_recycle: int = Field(default=280, ge=-1)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=10_000, ge=0)
    db_echo: bool = False

    redis_url: str | None = None
    # Keys are "<prefix>:…": deployments sharing one Redis need a prefix each.
    redis_prefix: str = Field(default="fastboard", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    # Anonymous reads are cached in Redis (when redis_url is set) for at most this long;
    # writes invalidate them sooner. 0 turns the cache off.
    cache_ttl_seconds: int = Field(default=60, ge=0)
    # Password hashes (Argon2id) computed at once per worker; more logins wait their turn.
    # Each takes a core and 19 MiB while it runs.
    password_hash_concurrency: int = Field(default=1, ge=1)
    # How much lower than request handling hashing runs (Linux thread nice value, added).
    password_hash_nice: int = Field(default=10, ge=0, le=19)
    # Live updates (/api/live): messages waiting for one slow client before it is cut
    # (4408), and events kept for clients that reconnect with ``since``.
    live_send_queue: int = Field(default=256, ge=1)
    live_backlog: int = Field(default=10_000, ge=10)
    # Counts (favorites) go out at most once per this many seconds per article and worker.
    live_coalesce_seconds: float = Field(default=1.0, gt=0)
    # Request bodies above this many bytes get a 413, in the app as in NGINX (which
    # allows 1m): a Gunicorn-direct deployment has nothing else in front of it.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Throttling of the requests that check a password (fastboard/throttle.py), shared by
    # every worker through Redis when redis_url is set. Per client address: attempts per
    # period. Per account: failed attempts per period, then one more per period/limit.
    throttle: bool = True
    throttle_address_limit: int = Field(default=20, ge=1)
    throttle_address_period_seconds: int = Field(default=60, ge=1)
    throttle_account_limit: int = Field(default=10, ge=1)
    throttle_account_period_seconds: int = Field(default=900, ge=1)
    # Gunicorn workers retire (and are replaced) when their resident memory reaches this
    # many MiB, or after this many seconds (stretched by up to 10 % per worker); 0: never.
    # Memory catches a leak whatever the request rate, which a request count
    # (FASTBOARD_MAX_REQUESTS, off by default) cannot. A worker holds about 100 MiB.
    max_worker_memory_mb: int = Field(default=512, ge=0)
    max_worker_age_seconds: int = Field(default=24 * 3600, ge=0)
    log_level: str = "INFO"
    log_json: bool | None = None
    cors_origins: list[str] = []
    migrate_on_start: bool | None = None

    _generated_secret: str | None = PrivateAttr(default=None)
    # Built once per configuration of the keys (a test may replace them).
    _verification_keys: tuple[object, dict[str, VerificationKey]] | None = PrivateAttr(default=None)

    @field_validator("db_pool_recycle")
    @classmethod
    def _recycle_not_zero(cls, value: int) -> int:
        if value == 0:  # SQLAlchemy would open a new connection for every request
            raise ValueError("must be -1 (never) or a number of seconds")
        return value

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.env == "production" and not self.secret_key:
            raise ValueError(
                "FASTBOARD_SECRET_KEY must be set when FASTBOARD_ENV=production "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))')"
            )
        key = self.secret_key.get_secret_value() if self.secret_key is not None else None
        if key is not None and len(key) < MIN_SECRET_LENGTH:
            raise ValueError(f"FASTBOARD_SECRET_KEY needs at least {MIN_SECRET_LENGTH} characters")
        for previous in self.previous_secret_keys:
            if len(previous.get_secret_value()) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"FASTBOARD_PREVIOUS_SECRET_KEYS: each needs at least {MIN_SECRET_LENGTH} "
                    "characters"
                )
        if self.previous_secret_keys and self.previous_keys_valid_until is None:
            raise ValueError(
                "FASTBOARD_PREVIOUS_KEYS_VALID_UNTIL must be set with "
                "FASTBOARD_PREVIOUS_SECRET_KEYS (when the old keys stop verifying, e.g. the "
                "rotation's time plus a week)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cors_origin_regex(self) -> str | None:
        """Origins allowed beside ``cors_origins``: in development, any local one."""
        return LOCAL_ORIGINS if self.env == "development" else None

    @property
    def json_logs(self) -> bool:
        return self.env == "production" if self.log_json is None else self.log_json

    @property
    def should_migrate_on_start(self) -> bool:
        """Dev mode migrates itself; production runs ``fastboard migrate`` once instead."""
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.env == "development"

    def jwt_secret(self) -> str:
        """The signing key: configured, or generated once and kept under ``var/`` in dev.

        Keeping the generated key on disk makes tokens survive restarts and be valid in
        every worker process, which an in-memory random key would not.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        # Read once per process: every token issued or checked needs it.
        if self._generated_secret is None:
            self._generated_secret = self._load_or_create_key()
        return self._generated_secret

    def verification_keys(self) -> dict[str, VerificationKey]:
        """Every key a token may be signed with, by key id (the ``kid`` header): the
        current one first, then the previous ones with the time they stop verifying."""
        current = self.jwt_secret()
        previous = tuple(key.get_secret_value() for key in self.previous_secret_keys)
        config = (current, previous, self.previous_keys_valid_until)
        if self._verification_keys is None or self._verification_keys[0] != config:
            keys = {key_id(current): VerificationKey(current, None)}
            until = self.previous_keys_valid_until
            if until is not None and until.tzinfo is None:
                until = until.replace(tzinfo=UTC)  # a time without a zone is UTC
            for secret in previous:
                assert until is not None  # the validator requires it with previous keys
                keys.setdefault(key_id(secret), VerificationKey(secret, until.timestamp()))
            self._verification_keys = (config, keys)
        return self._verification_keys[1]

    def _load_or_create_key(self) -> str:
        path = self.var_dir / "secret_key"
        key = _read_key(path)
        if key is None:
            self.var_dir.mkdir(parents=True, exist_ok=True)
            _publish_key(path, secrets.token_urlsafe(64))
            key = _read_key(path)
        if key is None:
            raise RuntimeError(f"could not create a usable secret key in {path}")
        return key


MIN_SECRET_LENGTH = 32


class VerificationKey(NamedTuple):
    secret: str
    until: float | None  # seconds since the epoch after which it verifies nothing; None: ever

    def __repr__(self) -> str:  # never the secret, should one be logged
        return f"VerificationKey(secret=***, until={self.until!r})"


def key_id(secret: str) -> str:
    """The ``kid`` of tokens ``secret`` signs: names the key without revealing it (a hash
    of a key of 32+ random characters), so a verifier picks the one key to try."""
    return hashlib.sha256(b"fastboard-kid:" + secret.encode()).hexdigest()[:16]


def _read_key(path: Path) -> str | None:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return None
    return key if len(key) >= MIN_SECRET_LENGTH else None


def _publish_key(path: Path, key: str) -> None:
    """Make ``key`` appear at ``path`` whole or not at all.

    The key is written to a private temp file first, then linked into place: a worker
    never reads a half-written file, and when several workers race, the first link wins
    and every worker reads that one. A file that exists but is unusable is replaced.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        try:
            os.link(temp, path)
        except FileExistsError:
            if _read_key(path) is None:
                os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@lru_cache
def get_settings() -> Settings:
    return Settings()
