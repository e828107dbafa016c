"""A small, bounded load: a few concurrent clients issuing requests until told to stop.

Each request records the phase of the test it started in, so a test can say "every
request started after the new worker appeared succeeded" without measuring time. A
request fails when the server side fails it: a 5xx or no HTTP answer at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import httpx

from tests.stack.waiting import until

Request = tuple[str, str]  # method, path; a POST sends an empty JSON object


@dataclass(frozen=True)
class Outcome:
    phase: str
    request: Request
    status: int | None  # None: the request failed below HTTP
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 500


@dataclass
class Load:
    client: httpx.AsyncClient
    requests: Sequence[Request]
    concurrency: int
    max_requests: int
    phase: str = "start"
    in_flight: int = 0
    started: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: anyio.Event = field(default_factory=anyio.Event)

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            for index in range(self.concurrency):
                tasks.start_soon(self._client, index)

    def stop(self) -> None:
        self._stop.set()

    async def wait_completed(self, count: int, phase: str | None = None) -> None:
        """Until ``count`` requests (of ``phase``, if given) have their outcome."""

        def done() -> int:
            return len(self.outcomes) if phase is None else len(self.in_phase(phase))

        def reached() -> bool:
            if self.started >= self.max_requests and self.in_flight == 0 and done() < count:
                raise AssertionError(f"load ended after {len(self.outcomes)} requests")
            return done() >= count

        await until(reached, seconds=60)

    def failures(self, phase: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok and phase in (None, o.phase)]

    def in_phase(self, phase: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.phase == phase]

    def summary(self) -> str:
        counts = Counter((o.phase, o.status) for o in self.outcomes)
        errors = Counter(o.error for o in self.outcomes if o.error)
        return f"{dict(counts)}; errors: {dict(errors)}"

    async def _client(self, index: int) -> None:
        turn = index
        while not self._stop.is_set() and self.started < self.max_requests:
            method, path = request = self.requests[turn % len(self.requests)]
            turn += 1
            phase = self.phase
            self.started += 1
            self.in_flight += 1
            try:
                body: dict[str, object] | None = {} if method == "POST" else None
                response = await self.client.request(method, path, json=body)
                outcome = Outcome(phase, request, response.status_code)
            except httpx.HTTPError as exc:
                outcome = Outcome(phase, request, None, repr(exc))
            finally:
                self.in_flight -= 1
            self.outcomes.append(outcome)
