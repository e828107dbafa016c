"""Registration, login, the current user and the OAuth2 token endpoint, over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from fastboard.security import decode_token
from fastboard.settings import Settings
from fastboard.users.models import User
from tests.conftest import TEST_SECRET, auth, register
from tests.users.conftest import StoredUser

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse"
USER_FIELDS = {"email", "token", "username", "bio", "image", "role"}
BAD_CREDENTIALS = {"errors": {"credentials": ["email or password is invalid"]}}


def new_user(**overrides: Any) -> dict[str, Any]:
    user = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
    user.update(overrides)
    return {"user": user}


def sign(claims: dict[str, Any], *, secret: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def claims_for(user_id: int | str, *, age: timedelta = timedelta(0)) -> dict[str, Any]:
    issued = datetime.now(UTC) - age
    return {"sub": str(user_id), "iat": issued, "exp": issued + timedelta(hours=1)}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/users/login", json={"user": {"email": email, "password": password}}
    )


async def current(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/user", headers=auth(token))


async def update(client: httpx.AsyncClient, token: str, /, **fields: Any) -> httpx.Response:
    return await client.put("/api/user", json={"user": fields}, headers=auth(token))


def assert_invalid(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"errors"}
    assert field in body["errors"], body
    assert all(isinstance(message, str) and message for message in body["errors"][field])


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Token"
    errors = response.json()["errors"]
    assert list(errors) == ["token"]
    assert errors["token"]


# Registration ---------------------------------------------------------------------------


async def test_register_is_201_with_the_user_envelope(
    client: httpx.AsyncClient, settings: Settings, stored_user: StoredUser
) -> None:
    response = await client.post("/api/users", json=new_user())

    assert response.status_code == 201
    body = response.json()
    assert list(body) == ["user"]
    assert set(body["user"]) == USER_FIELDS
    token = body["user"].pop("token")
    assert body["user"] == {
        "email": "alice@example.com",
        "username": "alice",
        "bio": "",
        "image": "",
        "role": "user",
    }
    row = await stored_user("alice")
    assert row is not None
    assert decode_token(token, settings) == row["id"]


async def test_register_token_authenticates(client: httpx.AsyncClient) -> None:
    user = await register(client, "alice")

    response = await current(client, user["token"])

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"


async def test_register_stores_email_in_lower_case(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    response = await client.post("/api/users", json=new_user(email="Alice@Example.COM"))

    assert response.status_code == 201
    assert response.json()["user"]["email"] == "alice@example.com"
    row = await stored_user("alice")
    assert row is not None
    assert row["email"] == "alice@example.com"


async def test_register_ignores_unknown_fields(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    payload = new_user(id=999, password_hash="plain", bio="injected", image="http://x/i.png")

    response = await client.post("/api/users", json=payload)

    assert response.status_code == 201
    row = await stored_user("alice")
    assert row is not None
    assert row["id"] != 999
    assert row["password_hash"].startswith("$argon2id$")
    assert row["bio"] == ""
    assert row["image"] is None


async def test_register_duplicate_username_is_422_naming_username(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "alice")

    response = await client.post("/api/users", json=new_user(email="other@example.com"))

    assert response.json() == {"errors": {"username": ["has already been taken"]}}
    assert response.status_code == 422


async def test_register_duplicate_email_is_422_naming_email(client: httpx.AsyncClient) -> None:
    await register(client, "alice")

    response = await client.post("/api/users", json=new_user(username="alice2"))

    assert response.status_code == 422
    assert response.json() == {"errors": {"email": ["has already been taken"]}}


async def test_register_email_duplicate_differing_only_in_case_is_422(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "alice")

    response = await client.post(
        "/api/users", json=new_user(username="alice2", email="ALICE@example.com")
    )

    assert response.status_code == 422
    assert response.json() == {"errors": {"email": ["has already been taken"]}}


@pytest.mark.own_app  # concurrent requests need connections of their own
@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        (
            {"username": "racer", "email": "racer1@example.com"},
            {"username": "racer", "email": "racer2@example.com"},
            "username",
        ),
        (
            {"username": "racer1", "email": "racer@example.com"},
            {"username": "racer2", "email": "racer@example.com"},
            "email",
        ),
    ],
    ids=["same-username", "same-email"],
)
async def test_concurrent_registrations_give_one_201_and_one_422(
    client: httpx.AsyncClient, first: dict[str, str], second: dict[str, str], field: str
) -> None:
    responses = await asyncio.gather(
        client.post("/api/users", json={"user": {**first, "password": PASSWORD}}),
        client.post("/api/users", json={"user": {**second, "password": PASSWORD}}),
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 422], [response.text for response in responses]
    loser = next(response for response in responses if response.status_code == 422)
    assert loser.json() == {"errors": {field: ["has already been taken"]}}


LONG_EMAIL = "a" * 60 + "@" + ".".join(["b" * 60] * 3) + ".example.com"  # 255 characters


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "a" * 65}, "username"),
        ({"username": "two words"}, "username"),
        ({"username": ""}, "username"),
        ({"username": "ali\x00ce"}, "username"),
        ({"username": 12345}, "username"),
        ({"email": LONG_EMAIL}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "alice\x00@example.com"}, "email"),
        ({"email": None}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 257}, "password"),
        ({"password": "correct\x00horse"}, "password"),
        ({"password": ["correct-horse"]}, "password"),
    ],
    ids=[
        "username-too-long",
        "username-with-space",
        "username-empty",
        "username-nul",
        "username-number",
        "email-too-long",
        "email-invalid",
        "email-nul",
        "email-null",
        "password-too-short",
        "password-too-long",
        "password-nul",
        "password-list",
    ],
)
async def test_register_with_invalid_field_is_422_naming_it(
    client: httpx.AsyncClient, stored_user: StoredUser, overrides: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/users", json=new_user(**overrides))

    assert_invalid(response, field)
    assert await stored_user("alice") is None


async def test_register_without_fields_names_each_missing_one(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/users", json={"user": {}})

    assert response.status_code == 422
    assert response.json() == {
        "errors": {
            "username": ["can't be blank"],
            "email": ["can't be blank"],
            "password": ["can't be blank"],
        }
    }


async def test_register_username_of_64_characters_is_accepted(client: httpx.AsyncClient) -> None:
    name = "u" * 64

    response = await client.post("/api/users", json=new_user(username=name))

    assert response.status_code == 201
    assert response.json()["user"]["username"] == name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"user": {"username": "alice",', "is not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'[{"user": {}}]', "must be a JSON object"),
        (b'"user"', "must be a JSON object"),
        (b"{}", "can't be blank"),
        (b'{"username": "alice", "email": "a@example.com", "password": "xxxxxxxx"}', None),
        (b'{"user": "alice"}', None),
        (b'{"user": null}', None),
    ],
    ids=[
        "malformed-json",
        "empty-array",
        "array-of-envelope",
        "string",
        "empty-object",
        "missing-envelope",
        "envelope-is-string",
        "envelope-is-null",
    ],
)
async def test_register_with_malformed_body_is_422_envelope(
    client: httpx.AsyncClient, content: bytes, message: str | None
) -> None:
    response = await client.post(
        "/api/users", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert list(errors) == ["body"]
    if message is not None:
        assert errors["body"] == [message]


# Login ----------------------------------------------------------------------------------


async def test_login_is_200_with_the_user_envelope(
    client: httpx.AsyncClient, settings: Settings, stored_user: StoredUser
) -> None:
    await register(client, "alice")

    response = await login(client, "alice@example.com", PASSWORD)

    assert response.status_code == 200
    user = response.json()["user"]
    assert set(user) == USER_FIELDS
    assert {key: user[key] for key in ("email", "username", "bio", "image", "role")} == {
        "email": "alice@example.com",
        "username": "alice",
        "bio": "",
        "image": "",
        "role": "user",
    }
    row = await stored_user("alice")
    assert row is not None
    assert decode_token(user["token"], settings) == row["id"]


async def test_login_email_is_case_insensitive(client: httpx.AsyncClient) -> None:
    await register(client, "alice")

    response = await login(client, "ALICE@Example.com", PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"


async def test_login_with_wrong_password_is_401(client: httpx.AsyncClient) -> None:
    await register(client, "alice")

    response = await login(client, "alice@example.com", "wrong-horse")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


async def test_login_wrong_password_and_unknown_email_answer_identically(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "alice")

    wrong_password = await login(client, "alice@example.com", "wrong-horse")
    unknown_email = await login(client, "nobody@example.com", PASSWORD)

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.content == unknown_email.content
    assert wrong_password.headers["www-authenticate"] == unknown_email.headers["www-authenticate"]
    assert unknown_email.json() == BAD_CREDENTIALS


async def test_login_with_nul_in_password_is_just_a_wrong_password(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "alice")

    response = await login(client, "alice@example.com", "correct\x00horse")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


@pytest.mark.parametrize(
    ("user", "field"),
    [
        ({"email": "alice@example.com"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "alice@example.com", "password": "p" * 257}, "password"),
        ({"email": "alice@example.com", "password": 123}, "password"),
        ({"email": "alice\x00@example.com", "password": PASSWORD}, "email"),
    ],
    ids=[
        "no-password",
        "no-email",
        "invalid-email",
        "password-too-long",
        "password-number",
        "email-nul",
    ],
)
async def test_login_with_invalid_input_is_422(
    client: httpx.AsyncClient, user: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/users/login", json={"user": user})

    assert_invalid(response, field)


# Authentication -------------------------------------------------------------------------


async def test_get_current_user_is_200_with_the_user_envelope(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await register(client, "alice")

    response = await current(client, user["token"])

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["user"]
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["username"] == "alice"
    assert decode_token(body["user"]["token"], settings) == decode_token(user["token"], settings)


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
async def test_authorization_accepts_token_and_bearer_schemes(
    client: httpx.AsyncClient, scheme: str
) -> None:
    user = await register(client, "alice")

    response = await client.get("/api/user", headers={"Authorization": f"{scheme} {user['token']}"})

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alice"


async def test_get_current_user_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/user")

    assert_unauthorized(response)


@pytest.mark.parametrize(
    "header",
    ["Token", "Token ", "Bearer", "Basic YWxpY2U6cGFzc3dvcmQ=", "JWT abc.def.ghi", "abc.def.ghi"],
)
async def test_get_current_user_with_malformed_header_is_401(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/api/user", headers={"Authorization": header})

    assert_unauthorized(response)


async def test_token_with_a_changed_payload_is_401(client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob")
    header, _payload, signature = alice["token"].split(".")
    bob_claims = jwt.decode(bob["token"], options={"verify_signature": False})
    forged = f"{header}.{b64(bob_claims)}.{signature}"

    response = await current(client, forged)

    assert_unauthorized(response)


async def test_token_with_a_changed_signature_is_401(client: httpx.AsyncClient) -> None:
    user = await register(client, "alice")
    header, payload, signature = user["token"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    response = await current(client, f"{header}.{payload}.{flipped}")

    assert_unauthorized(response)


async def test_token_signed_with_another_secret_is_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await register(client, "alice")
    user_id = decode_token(user["token"], settings)
    assert user_id is not None

    response = await current(client, sign(claims_for(user_id), secret="another-secret-" * 4))

    assert_unauthorized(response)


async def test_expired_token_is_401(client: httpx.AsyncClient, settings: Settings) -> None:
    user = await register(client, "alice")
    user_id = decode_token(user["token"], settings)
    assert user_id is not None
    expired = sign(claims_for(user_id, age=timedelta(hours=1, seconds=5)))
    fresh = sign(claims_for(user_id, age=timedelta(minutes=59)))

    assert (await current(client, fresh)).status_code == 200
    assert_unauthorized(await current(client, expired))


async def test_alg_none_token_is_401(client: httpx.AsyncClient, settings: Settings) -> None:
    user = await register(client, "alice")
    user_id = decode_token(user["token"], settings)
    assert user_id is not None
    unsigned = jwt.encode(claims_for(user_id), "", algorithm="none")

    response = await current(client, unsigned)

    assert_unauthorized(response)


async def test_token_with_alg_none_header_and_a_real_signature_is_401(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client, "alice")
    _header, payload, signature = user["token"].split(".")
    header = b64({"alg": "none", "typ": "JWT"})

    assert_unauthorized(await current(client, f"{header}.{payload}.{signature}"))
    assert_unauthorized(await current(client, f"{header}.{payload}."))


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1"},
        {"sub": "1", "iat": datetime.now(UTC)},
        {"iat": datetime.now(UTC), "exp": datetime.now(UTC) + timedelta(hours=1)},
        claims_for("alice"),
        claims_for(0),
        claims_for(-1),
        claims_for(2**70),
    ],
    ids=["no-exp", "no-iat", "no-sub", "sub-not-a-number", "sub-zero", "sub-negative", "sub-huge"],
)
async def test_token_with_bad_claims_is_401(
    client: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    await register(client, "alice")

    assert_unauthorized(await current(client, sign(claims)))


async def test_token_for_an_unknown_user_id_is_401(client: httpx.AsyncClient) -> None:
    response = await current(client, sign(claims_for(987_654)))

    assert_unauthorized(response)


async def test_token_of_a_deleted_user_is_401(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    user = await register(client, "alice")
    user_id = decode_token(user["token"], settings)
    assert user_id is not None
    async with app.state.database.writer() as session:
        await session.execute(delete(User).where(User.id == user_id))
        await session.commit()

    response = await current(client, user["token"])

    assert_unauthorized(response)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/user", None),
        ("PUT", "/api/user", {"user": {"bio": "hi"}}),
        ("POST", "/api/profiles/alice/follow", None),
        ("DELETE", "/api/profiles/alice/follow", None),
    ],
)
@pytest.mark.parametrize("token", [None, "not.a.jwt"], ids=["no-token", "garbage-token"])
async def test_protected_endpoints_without_valid_token_are_401(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    token: str | None,
) -> None:
    headers = auth(token) if token else {}

    response = await client.request(method, path, json=body, headers=headers)

    assert_unauthorized(response)


# Update ---------------------------------------------------------------------------------


async def test_update_bio_and_image_changes_only_those(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    user = await register(client, "alice")
    before = await stored_user("alice")
    assert before is not None

    response = await update(client, user["token"], bio="I like tea", image="https://i.test/a.png")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["user"]
    assert set(body["user"]) == USER_FIELDS
    assert body["user"]["bio"] == "I like tea"
    assert body["user"]["image"] == "https://i.test/a.png"
    assert body["user"]["username"] == "alice"
    assert body["user"]["email"] == "alice@example.com"
    after = await stored_user("alice")
    assert after is not None
    assert after.pop("updated_at") >= before.pop("updated_at")
    assert after == {**before, "bio": "I like tea", "image": "https://i.test/a.png"}
    assert (await current(client, user["token"])).json()["user"]["bio"] == "I like tea"


async def test_update_username_and_email_moves_the_profile(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    user = await register(client, "alice")
    before = await stored_user("alice")
    assert before is not None

    response = await update(client, user["token"], username="alicia", email="Alicia@Example.com")

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "alicia"
    assert response.json()["user"]["email"] == "alicia@example.com"
    assert await stored_user("alice") is None
    after = await stored_user("alicia")
    assert after is not None
    after.pop("updated_at")
    before.pop("updated_at")
    assert after == {**before, "username": "alicia", "email": "alicia@example.com"}
    assert (await client.get("/api/profiles/alicia")).status_code == 200
    assert (await client.get("/api/profiles/alice")).status_code == 404
    assert (await login(client, "alicia@example.com", PASSWORD)).status_code == 200


async def test_update_ignores_unknown_fields(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    user = await register(client, "alice")
    before = await stored_user("alice")
    assert before is not None

    response = await update(
        client,
        user["token"],
        bio="new bio",
        id=999,
        password_hash="$argon2id$forged",
        created_at="2000-01-01T00:00:00Z",
        token="forged",
    )

    assert response.status_code == 200
    assert response.json()["user"]["token"] != "forged"
    after = await stored_user("alice")
    assert after is not None
    assert after["id"] == before["id"]
    assert after["password_hash"] == before["password_hash"]
    assert after["created_at"] == before["created_at"]
    assert after["bio"] == "new bio"
    assert (await login(client, "alice@example.com", PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    "payload", [{"user": {}}, {"user": {"id": 999, "password_hash": "x"}}], ids=["empty", "unknown"]
)
async def test_update_without_any_known_field_is_422(
    client: httpx.AsyncClient, stored_user: StoredUser, payload: dict[str, Any]
) -> None:
    user = await register(client, "alice")
    before = await stored_user("alice")
    assert before is not None

    response = await client.put("/api/user", json=payload, headers=auth(user["token"]))

    assert response.status_code == 422
    assert set(response.json()) == {"errors"}
    assert await stored_user("alice") == before


async def test_update_without_the_user_envelope_is_422(client: httpx.AsyncClient) -> None:
    user = await register(client, "alice")

    response = await client.put("/api/user", json={"bio": "hi"}, headers=auth(user["token"]))

    assert response.status_code == 422
    assert response.json() == {"errors": {"body": ["can't be blank"]}}


async def test_update_with_empty_password_keeps_the_password(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    user = await register(client, "alice")
    before = await stored_user("alice")
    assert before is not None

    response = await update(client, user["token"], password="", bio="still me")

    assert response.status_code == 200
    after = await stored_user("alice")
    assert after is not None
    assert after["password_hash"] == before["password_hash"]
    assert (await login(client, "alice@example.com", PASSWORD)).status_code == 200


async def test_update_password_changes_which_password_logs_in(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    user = await register(client, "alice")

    response = await update(client, user["token"], password="battery-staple")

    assert response.status_code == 200
    row = await stored_user("alice")
    assert row is not None
    assert row["password_hash"].startswith("$argon2id$")
    assert (await login(client, "alice@example.com", "battery-staple")).status_code == 200
    old = await login(client, "alice@example.com", PASSWORD)
    assert old.status_code == 401
    assert old.json() == BAD_CREDENTIALS


async def test_update_to_own_username_and_email_is_allowed(client: httpx.AsyncClient) -> None:
    user = await register(client, "alice")

    response = await update(
        client, user["token"], username="alice", email="ALICE@example.com", bio="same"
    )

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "alice@example.com"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "bob"}, "username"),
        ({"email": "bob@example.com"}, "email"),
        ({"email": "BOB@Example.COM"}, "email"),
    ],
    ids=["username", "email", "email-other-case"],
)
async def test_update_to_a_taken_value_is_422_naming_the_field(
    client: httpx.AsyncClient, stored_user: StoredUser, fields: dict[str, str], field: str
) -> None:
    user = await register(client, "alice")
    await register(client, "bob")
    before = await stored_user("alice")

    response = await update(client, user["token"], **fields)

    assert response.status_code == 422
    assert response.json() == {"errors": {field: ["has already been taken"]}}
    assert await stored_user("alice") == before


@pytest.mark.own_app  # concurrent requests need connections of their own
async def test_concurrent_renames_to_the_same_username_give_one_200_and_one_422(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob")

    responses = await asyncio.gather(
        update(client, alice["token"], username="winner"),
        update(client, bob["token"], username="winner"),
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 422], [response.text for response in responses]
    loser = next(response for response in responses if response.status_code == 422)
    assert loser.json() == {"errors": {"username": ["has already been taken"]}}
    remaining = [await stored_user(name) for name in ("alice", "bob")]
    assert sum(row is not None for row in remaining) == 1
    assert await stored_user("winner") is not None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "a" * 65}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "nul\x00"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": LONG_EMAIL}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "p" * 257}, "password"),
        ({"bio": "b" * 4097}, "bio"),
        ({"bio": "nul\x00bio"}, "bio"),
        ({"bio": 42}, "bio"),
        ({"image": "https://i.test/" + "i" * 2040}, "image"),
        ({"image": "https://i.test/\x00"}, "image"),
    ],
    ids=[
        "username-too-long",
        "username-with-space",
        "username-nul",
        "email-invalid",
        "email-too-long",
        "password-too-short",
        "password-too-long",
        "bio-too-long",
        "bio-nul",
        "bio-number",
        "image-too-long",
        "image-nul",
    ],
)
async def test_update_with_invalid_field_is_422_and_changes_nothing(
    client: httpx.AsyncClient, stored_user: StoredUser, fields: dict[str, Any], field: str
) -> None:
    user = await register(client, "alice")
    before = await stored_user("alice")
    assert before is not None

    response = await update(client, user["token"], **{"bio": "changed", **fields})

    assert_invalid(response, field)
    assert await stored_user("alice") == before


async def test_update_bio_of_4096_characters_is_accepted(client: httpx.AsyncClient) -> None:
    user = await register(client, "alice")

    response = await update(client, user["token"], bio="b" * 4096)

    assert response.status_code == 200
    assert response.json()["user"]["bio"] == "b" * 4096


async def test_update_can_clear_bio_and_image(client: httpx.AsyncClient) -> None:
    user = await register(client, "alice")
    await update(client, user["token"], bio="tea", image="https://i.test/a.png")

    response = await update(client, user["token"], bio="", image="")

    assert response.status_code == 200
    assert response.json()["user"]["bio"] == ""
    assert response.json()["user"]["image"] == ""


# OAuth2 password flow -------------------------------------------------------------------


async def test_token_endpoint_answers_a_bearer_token_that_authenticates(
    client: httpx.AsyncClient, settings: Settings, stored_user: StoredUser
) -> None:
    await register(client, "alice")

    response = await client.post(
        "/api/users/token", data={"username": "alice@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type"}
    assert body["token_type"] == "bearer"
    row = await stored_user("alice")
    assert row is not None
    assert decode_token(body["access_token"], settings) == row["id"]
    me = await client.get("/api/user", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "alice"


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice@example.com", "wrong-horse"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
async def test_token_endpoint_with_bad_credentials_is_401(
    client: httpx.AsyncClient, username: str, password: str
) -> None:
    await register(client, "alice")

    response = await client.post(
        "/api/users/token", data={"username": username, "password": password}
    )

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


@pytest.mark.parametrize(
    "data",
    [
        {"username": "alice@example.com"},
        {"password": PASSWORD},
        {"username": "alice@example.com", "password": PASSWORD, "grant_type": "client_credentials"},
        # Bounded like login, so the form is no way around its limits.
        {"username": "alice\x00@example.com", "password": PASSWORD},
        {"username": "a" * 300 + "@example.com", "password": PASSWORD},
        {"username": "alice@example.com", "password": "p" * 257},
    ],
    ids=[
        "no-password",
        "no-username",
        "wrong-grant-type",
        "nul-in-username",
        "username-too-long",
        "password-too-long",
    ],
)
async def test_token_endpoint_with_an_incomplete_or_unbounded_form_is_422(
    client: httpx.AsyncClient, data: dict[str, str]
) -> None:
    response = await client.post("/api/users/token", data=data)

    assert response.status_code == 422
    assert set(response.json()) == {"errors"}


async def test_token_endpoint_accepts_what_swagger_ui_sends(client: httpx.AsyncClient) -> None:
    await register(client, "alice")
    form = {
        "grant_type": "password",
        "username": "Alice@Example.com",
        "password": PASSWORD,
        "scope": "",
        "client_id": "",
    }

    response = await client.post("/api/users/token", data=form)

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


async def test_token_endpoint_refuses_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users/token", json={"username": "alice@example.com", "password": PASSWORD}
    )

    assert response.status_code == 422
    assert set(response.json()) == {"errors"}
