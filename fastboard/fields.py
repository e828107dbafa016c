"""Field types shared by the domains' wire schemas: what input is accepted, how values are
written out."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import AfterValidator, EmailStr, Field, PlainSerializer, StringConstraints


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it at the edge instead of failing in the driver.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# For any text that reaches the database, even only as a value to look up.
NoNul = AfterValidator(_no_nul)


# Joins an article's tag names in one SQL string (see articles.repository); tag names may
# not contain it, nor any other control character.
TAG_SEPARATOR = "\x1f"


def _no_control_characters(value: str) -> str:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain control characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("can't be blank")
    return value


# What the validators above enforce, declared in the OpenAPI schema as patterns, so that a
# request the schema allows is never refused (Schemathesis checks it). Not enforced
# through these: the validators keep their own messages ("can't be blank").
NO_NUL_PATTERN = r"^[^\x00]*$"
NO_NUL = Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
NOT_BLANK = Field(json_schema_extra={"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"})
NO_CONTROL_NOT_BLANK = Field(
    json_schema_extra={"pattern": r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"}
)


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# email-validator refuses addresses at special-use domains (RFC 6761: .test, .local, …).
_SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
EMAIL_DOMAIN = Field(
    json_schema_extra={"pattern": rf"^[^@]+@(?!(?:[^@]*\.)?(?:{_SPECIAL_USE})\.?$)[^@]+$"}
)


def iso_millis(value: datetime) -> str:
    # RealWorld clients expect e.g. 2024-05-01T12:00:00.000Z: fractional seconds and "Z".
    # Formatted by hand: a list writes two per article, and isoformat() costs half more.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - the fastest here
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond // 1000,
    )


Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w.\-]+$"),
    NoNul,
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256), NoNul, NO_NUL]
Bio = Annotated[str, StringConstraints(max_length=4096), NoNul, NO_NUL]
ImageUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048), NoNul, NO_NUL]
Email = Annotated[
    EmailStr,
    StringConstraints(max_length=254),
    NoNul,
    AfterValidator(str.lower),
    EMAIL_DOMAIN,
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=255),
    NoNul,
    AfterValidator(_not_blank),
    NOT_BLANK,
]
Description = Annotated[
    str,
    StringConstraints(max_length=1024),
    NoNul,
    AfterValidator(_not_blank),
    NOT_BLANK,
]
Body = Annotated[
    str,
    StringConstraints(max_length=100_000),
    NoNul,
    AfterValidator(_not_blank),
    NOT_BLANK,
]
TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_no_control_characters),
    NO_CONTROL_NOT_BLANK,
]
MAX_TAGS = 10
# Why a moderator acted: kept in the moderation log.
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=1000),
    NoNul,
    AfterValidator(_not_blank),
    NOT_BLANK,
]

Timestamp = Annotated[datetime, PlainSerializer(iso_millis, return_type=str)]

# Names and descriptions of categories and boards.
ShortName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64),
    AfterValidator(_no_control_characters),
    AfterValidator(_not_blank),
    NO_CONTROL_NOT_BLANK,
]
ShortText = Annotated[str, StringConstraints(max_length=1024), NoNul, NO_NUL]
