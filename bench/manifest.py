"""The record of a seeded benchmark database, so the next run can skip seeding.

Seeding through the API takes minutes (Argon2 per user, one request per article, follow,
favorite and comment). ``var/bench/dataset.json`` keeps what the load scenarios need
(users with their tokens and emails, the password, slugs, the articles with comments, the
pairs left unfavorited), the secret key the tokens are signed with, the seed plan and the
row counts. A run reuses the database when all of these still match; ``BENCH_RESEED=1``
forces a new seed. The key signs tokens for this throwaway database only.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.seed import Dataset, SeedPlan

ROWS_CHANGED = "the database's rows changed"
# Tokens live 7 days (FASTBOARD_JWT_TTL_SECONDS default); reseed well before that.
MAX_AGE_SECONDS = 5 * 24 * 3600


@dataclass(slots=True)
class Manifest:
    database_url: str
    secret_key: str
    schema_revision: str
    plan: dict[str, Any]
    counts: dict[str, int]
    created_at: float
    dataset: Dataset

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {**asdict(self), "dataset": asdict(self.dataset)}
        path.write_text(json.dumps(document, indent=1))
        os.chmod(path, 0o600)

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            dataset = Dataset.from_dict(data.pop("dataset"))
            return cls(**data, dataset=dataset)
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def stale_because(
        self, *, database_url: str, plan: SeedPlan, schema_revision: str, counts: dict[str, int]
    ) -> str | None:
        """Why this manifest cannot be reused, or None when it can."""
        if self.database_url != database_url:
            return "another database"
        if self.plan != plan_record(plan):
            return "another seed plan"
        if self.schema_revision != schema_revision:
            return f"schema moved from {self.schema_revision} to {schema_revision}"
        if time.time() - self.created_at > MAX_AGE_SECONDS:
            return "tokens are about to expire"
        if self.counts != counts:
            return ROWS_CHANGED
        return None


def plan_record(plan: SeedPlan) -> dict[str, Any]:
    # Through JSON, so a fresh plan compares equal to one read back from disk.
    record: dict[str, Any] = json.loads(json.dumps(asdict(plan)))
    return record
