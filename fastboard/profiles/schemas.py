from __future__ import annotations

from pydantic import BaseModel


class Profile(BaseModel):
    username: str
    bio: str
    image: str
    following: bool


class ProfileResponse(BaseModel):
    profile: Profile
