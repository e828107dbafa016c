"""Account management: password change, signing out everywhere and account deletion.
No FastAPI here.

The password change and the deletion check the current password first (off the event
loop, holding no connection). All three end every token issued before: a password change
and signing out everywhere raise the account's token version, a deletion removes the
account the tokens name. Every worker then refuses those tokens (the version is compared
with the account's on every request) and closes the live connections they opened.

What a deleted account wrote stays, under the "[deleted]" placeholder account: deleting
an article would take other people's comments on it along, and a thread with holes in it
reads worse than one with an anonymous author. Its favorites and follows go with it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from fastboard import security
from fastboard.articles import repository as articles
from fastboard.comments import repository as comments
from fastboard.db import changed, release_connection
from fastboard.errors import Invalid
from fastboard.history import repository as history
from fastboard.live import events as live
from fastboard.live.protocol import Close
from fastboard.moderation import repository as moderation
from fastboard.settings import Settings
from fastboard.users import repository
from fastboard.users.models import User
from fastboard.users.roles import Role
from fastboard.users.schemas import User as UserOut
from fastboard.users.service import signed_in

WRONG_PASSWORD = "is not your current password"  # noqa: S105 - a message


class WrongPassword(Invalid):
    """The current password given to confirm a change is not the account's."""


async def _check_password(
    session: AsyncSession, user: User, password: str, settings: Settings, *, field: str
) -> None:
    # The user was read to authenticate the request; nothing is written yet.
    await release_connection(session)
    valid, _ = await security.verify_and_update(password, user.password_hash, settings)
    if not valid:
        raise WrongPassword(WRONG_PASSWORD, field=field)


async def change_password(
    session: AsyncSession, user: User, current: str, new: str, settings: Settings
) -> UserOut:
    await _check_password(session, user, current, settings, field="currentPassword")
    new_hash = await security.hash_password(new, settings)
    version = await repository.change_password(session, user, new_hash)
    if version is None:
        # Another request changed the password between our read and this write.
        raise Invalid("was changed meanwhile: sign in again", field="currentPassword")
    live.tokens_spent(session, user.id, version)
    changed(session, User)  # no cached answer shows a password hash or a token version
    # Written already: the instance, out of the session, only has to say so in the answer.
    session.expunge(user)
    user.password_hash = new_hash
    user.token_version = version
    return signed_in(user, settings)


async def logout_everywhere(session: AsyncSession, user: User) -> None:
    """Spend every token of the account, the one this request came with included."""
    version = await repository.raise_token_version(session, user.id)
    if version is not None:
        live.tokens_spent(session, user.id, version)
    changed(session, User)  # no cached answer shows a token version


async def delete_account(
    session: AsyncSession, user: User, password: str, settings: Settings
) -> None:
    await _check_password(session, user, password, settings, field="password")
    if Role(user.role) is Role.ADMIN and len(await moderation.lock_admins(session)) <= 1:
        raise Invalid("the last admin cannot leave: make another admin first", field="user")
    placeholder = await repository.placeholder_id(session)
    await articles.drop_favorites_of(session, user.id)
    await articles.reassign_articles(session, user.id, placeholder)
    await comments.reassign_comments(session, user.id, placeholder)
    await comments.drop_votes_of(session, user.id)
    await history.reassign_editor(session, user.id, placeholder)
    await repository.remove(session, user.id)
    live.account_closed(session, user.id, Close.UNAUTHORIZED, "account deleted")
    session.expunge(user)
