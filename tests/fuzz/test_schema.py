"""Schemathesis fuzzes every operation of the app's own ``/openapi.json``.

Each generated request goes through the ASGI app (no server) on a database of the
module's own, signed in as an admin who owns an article and a comment, so authenticated
routes run past their token check; half the valid cases aim at that article and comment
instead of random slugs. Requests the schema allows and requests it forbids are both
sent. Every answer must be no 5xx, a documented status code and content type, and a
body that matches the documented schema; a request the schema allows may be refused
(422) only for a reason that depends on the data (a taken name, say).

Sized for CI (``FASTBOARD_FUZZ_EXAMPLES`` per operation, 80 by default: about a minute
and a half on two busy cores); ``make fuzz`` asks for many more, on PostgreSQL.
Generation is derandomized: a run tries the same cases every time, so a failure
reproduces.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine

from fastboard.app import create_app
from fastboard.migrate import upgrade_to_head
from fastboard.users.models import User
from tests.conftest import (
    SEED,
    TABLES,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
)

EXAMPLES = int(os.environ.get("FASTBOARD_FUZZ_EXAMPLES", "80"))
# "postgresql": the suite's PostgreSQL server (FASTBOARD_TEST_DATABASE_URL), a database
# created for the run; anything else: SQLite in a temporary directory.
BACKEND = os.environ.get("FASTBOARD_FUZZ_DATABASE", "sqlite")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PASSWORD = "fuzzing-password"


class Fixtures:
    """The app, a signed-in admin's token and the ids of what they wrote."""

    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url
        self.client = asgi.get_client(app)
        self.start()

    def start(self) -> None:
        """Sign up the first admin and write their article and comment."""
        self.users = 0
        self.token = self.sign_up()
        self.slug, self.comment_id = _write(self.client, self.token)

    def restart(self) -> None:
        """Back to the state ``start`` made, on an emptied database."""
        asyncio.run(_empty(self.url))
        self.start()

    def sign_up(self) -> str:
        """A new admin (the previous one may have renamed or deleted itself)."""
        self.users += 1
        name = f"fuzzer{self.users}"
        user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        response = self.client.post("/api/users", json={"user": user})
        assert response.status_code == 201, response.text
        asyncio.run(_promote(self.url, name))
        token: str = response.json()["user"]["token"]
        return token

    def pin(self, case: Any) -> Any:
        """The case aimed at what exists: most random slugs and ids only find a 404."""
        known = {"slug": self.slug, "id": self.comment_id, "username": "fuzzer1"}
        for name in list(case.path_parameters or {}):
            if name in known:
                case.path_parameters[name] = known[name]
        return case


async def _empty(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for table in TABLES:
                    await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our names
            for statement in SEED:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _promote(url: str, username: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(User).where(User.username == username).values(role="admin"))
    finally:
        await engine.dispose()


def _write(client: Any, token: str) -> tuple[str, int]:
    """An article and a comment of the user's."""
    headers = {"Authorization": f"Token {token}"}
    article = {"title": "Fuzzed", "description": "d", "body": "b", "tagList": ["fuzz"]}
    response = client.post("/api/articles", json={"article": article}, headers=headers)
    assert response.status_code == 201, response.text
    slug = response.json()["article"]["slug"]
    response = client.post(
        f"/api/articles/{slug}/comments", json={"comment": {"body": "c"}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return slug, int(response.json()["comment"]["id"])


@pytest.fixture(scope="module")
def fuzz_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixtures]:
    var = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{var / 'fuzz.db'}"
    created: str | None = None
    if BACKEND == "postgresql":
        if not os.environ.get("FASTBOARD_TEST_DATABASE_URL"):
            pytest.fail("FASTBOARD_FUZZ_DATABASE=postgresql needs FASTBOARD_TEST_DATABASE_URL")
        url = created = asyncio.run(create_postgres_database("fuzz"))
    # Production log level: the access log of thousands of requests is noise here. No
    # throttling: the fuzzer signs up again and again from one address, and throttling has
    # tests of its own (its 429s are documented where they can happen).
    settings_ = make_settings(url, var, log_level="WARNING", throttle=False)
    upgrade_to_head(settings_)
    gc_threshold = gc.get_threshold()
    root_level = logging.getLogger().level
    try:
        # Schemathesis' own ASGI client runs the app's lifespan once, on its own loop.
        yield Fixtures(create_app(settings_), url)
    finally:
        # The lifespan would otherwise run until the process ends: its database
        # connections closed at exit, its garbage collector settings kept for other tests.
        asgi.shutdown_lifespans()
        gc.unfreeze()
        gc.set_threshold(*gc_threshold)
        logging.getLogger().setLevel(root_level)
        if created is not None:
            asyncio.run(drop_postgres_database(created))


# Why a request the schema allows may still be refused: the state of the database or the
# clock, which no schema can declare. Any other 422 to a schema-valid request means the
# schema does not declare a rule the app enforces.
STATE_DEPENDENT = re.compile(
    r"has already been taken|is already taken|no (board|category) has the slug"
    r"|at least one field is required|must be between 1 and \d+|must be in the future"
    r"|must be at most \d+ days away|is not your current password|cannot follow yourself"
)
# After these succeed the token may no longer sign in.
SIGNS_OUT = {
    "PUT /api/user",
    "DELETE /api/user",
    "PUT /api/user/password",
    "POST /api/user/logout-all",
}


def _fuzz(operation: Any, state: Fixtures, cases: list[tuple[str, int]]) -> None:
    valid = operation.as_strategy()
    invalid = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

    @given(case=st.one_of(valid, valid.map(state.pin), invalid))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        response = case.call_and_validate(
            headers={"Authorization": f"Token {state.token}"}, checks=CHECKS
        )
        cases.append((operation.label, response.status_code))
        if response.status_code == 422 and case.meta.generation.mode.is_positive:
            messages = [m for ms in response.json()["errors"].values() for m in ms]
            assert all(STATE_DEPENDENT.search(m) for m in messages), (
                f"a request the schema allows was refused: {response.text}"
            )
        if operation.label in SIGNS_OUT and response.status_code < 300:
            state.token = state.sign_up()

    fuzz()


def test_every_answer_conforms_to_the_schema(fuzz_state: Fixtures) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_state.app)
    cases: list[tuple[str, int]] = []
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # a schema it cannot read fails the test
        operation = result.ok()
        operations += 1
        try:
            _fuzz(operation, fuzz_state, cases)
        except Exception as exc:  # every operation is fuzzed, then all failures reported
            failures[operation.label] = str(exc)
    statuses = Counter(status for _, status in cases)
    print(Counter(cases))
    answered = {label for label, status in cases if status < 300}
    print(
        f"fuzzed {operations} operations, {len(cases)} cases, statuses {dict(statuses)}, "
        f"{len(answered)} operations answered 2xx"
    )
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert operations >= 40
    # Signed in throughout: a harness whose token went stale would fuzz only the 401 path.
    assert statuses[401] < len(cases) / 10


# Sequences of up to 10 calls each.
STATEFUL_RUNS = max(EXAMPLES // 2, 5)


def test_links_between_operations_hold(fuzz_state: Fixtures) -> None:
    """Sequences of calls along the links Schemathesis infers from the schema (an
    article's slug from its creation into its comments, favorites, history…), with the
    same checks on every answer."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_state.app)
    machine = schema.as_state_machine()
    steps: list[tuple[str, int]] = []

    class SignedIn(machine):  # type: ignore[valid-type,misc]
        def setup(self) -> None:
            # Every sequence starts from the same data: which calls succeed, and so which
            # links can be followed, must not depend on the sequences before it (Hypothesis
            # replays and shrinks sequences, and refuses ones that draw differently).
            fuzz_state.restart()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Token {fuzz_state.token}"}}

        def after_call(self, response: Any, case: Any) -> None:
            label = case.operation.label
            steps.append((label, response.status_code))
            if label in SIGNS_OUT and response.status_code < 300:
                fuzz_state.token = fuzz_state.sign_up()

        def validate_response(self, response: Any, case: Any, **_: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    machine_settings = settings(
        max_examples=STATEFUL_RUNS,
        stateful_step_count=10,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    SignedIn.run(settings=machine_settings)
    linked = {label for label, status in steps if status < 300}
    print(f"stateful: {len(steps)} calls, {len(linked)} operations answered 2xx")
    assert len(linked) >= 5
