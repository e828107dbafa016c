from __future__ import annotations

from pydantic import BaseModel


class Profile(BaseModel):
    username: str
    bio: str
    image: str
    following: bool
    # fastboard's addition: user, moderator or admin.
    role: str = "user"


class ProfileResponse(BaseModel):
    profile: Profile
