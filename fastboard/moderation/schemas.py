"""Wire models of moderation: roles, suspensions, locks and the log, with examples."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fastboard.fields import Reason, Timestamp
from fastboard.users.roles import ROLE_NAMES


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RoleChange(_In):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"role": "moderator", "reason": "helps keep order"}]},
    )

    # A plain string checked by the service, so that an unknown name is reported under
    # "role" (validation would name the body: this request has no envelope to skip).
    role: str = Field(json_schema_extra={"enum": list(ROLE_NAMES)})
    reason: Reason | None = None


class NewSuspension(_In):
    # Aware: "until" names an instant; a time without an offset would be a guess.
    until: AwareDatetime
    reason: Reason


class NewSuspensionRequest(_In):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [{"suspension": {"until": "2030-01-31T12:00:00Z", "reason": "spam, again"}}]
        },
    )

    suspension: NewSuspension


class NewLock(_In):
    reason: Reason | None = None


class NewLockRequest(_In):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{"lock": {"reason": "the thread went off the rails"}}]},
    )

    lock: NewLock = NewLock()


class Suspension(BaseModel):
    username: str
    until: Timestamp | None
    reason: str | None


class SuspensionResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "suspension": {
                        "username": "jake",
                        "until": "2030-01-31T12:00:00.000Z",
                        "reason": "spam, again",
                    }
                },
                {"suspension": {"username": "jake", "until": None, "reason": None}},
            ]
        }
    )

    suspension: Suspension


class Lock(BaseModel):
    slug: str
    locked: bool
    lockedAt: Timestamp | None


class LockResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lock": {
                        "slug": "how-to-train-your-dragon",
                        "locked": True,
                        "lockedAt": "2030-01-01T09:30:00.000Z",
                    }
                },
                {"lock": {"slug": "how-to-train-your-dragon", "locked": False, "lockedAt": None}},
            ]
        }
    )

    lock: Lock


class LogEntry(BaseModel):
    id: int
    createdAt: Timestamp
    moderator: str
    action: str
    targetType: str
    target: str
    detail: str | None
    reason: str | None


class ModerationLogResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entries": [
                        {
                            "id": 12,
                            "createdAt": "2030-01-01T09:30:00.000Z",
                            "moderator": "mod",
                            "action": "suspend_user",
                            "targetType": "user",
                            "target": "jake",
                            "detail": "until 2030-01-31T12:00:00.000Z",
                            "reason": "spam, again",
                        }
                    ],
                    "entriesCount": 1,
                }
            ]
        }
    )

    entries: list[LogEntry]
    entriesCount: int
