"""The same repository code against SQLite and a real PostgreSQL (started by scripts/test.sh)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import FakeClock, make_settings
from web.services import Services, build_services


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def svc(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Services]:
    url = ""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    services = build_services(make_settings(tmp_path, database_url=url), FakeClock())
    if services.db.kind == "postgresql":
        await services.db.execute("DROP TABLE IF EXISTS sessions, users, schema_version CASCADE")
    await services.db.migrate()
    yield services
    await services.db.close()
    services.passwords.close()


async def test_migrations_are_idempotent(svc: Services) -> None:
    first = await svc.db.migrate()
    assert await svc.db.migrate() == first >= 1
    assert await svc.db.ping()


async def test_users_and_sessions_round_trip(svc: Services) -> None:
    user = await svc.users.create("Mixed.Case@Example.com", "a-good-password", display_name="Mixed")
    assert user.email == "mixed.case@example.com" and user.role == "user" and not user.disabled
    assert (await svc.users.get_by_email("MIXED.case@example.com")) == user
    raw, session_id = await svc.sessions.create(user.id, ip="127.0.0.1", user_agent="pytest")
    resolved = await svc.sessions.resolve(raw)
    assert resolved.session is not None and resolved.session.user.id == user.id
    assert await svc.sessions.count_active() == 1
    await svc.users.set_role(user.id, "admin")
    await svc.users.set_disabled(user.id, True)
    assert (await svc.sessions.resolve(raw)).failure == "disabled"
    assert [u.email for u in await svc.users.list()] == ["mixed.case@example.com"]


async def test_revoking_a_user_removes_every_session(svc: Services) -> None:
    user = await svc.users.create("two@example.com", "a-good-password")
    raws = [(await svc.sessions.create(user.id, ip="", user_agent=""))[0] for _ in range(3)]
    assert await svc.sessions.revoke_user(user.id) == 3
    for raw in raws:
        assert (await svc.sessions.resolve(raw)).failure == "revoked"


async def test_a_duplicate_email_is_refused(svc: Services) -> None:
    from web.accounts.users import AccountError

    await svc.users.create("dup@example.com", "a-good-password")
    with pytest.raises(AccountError):
        await svc.users.create("DUP@example.com", "a-good-password")


async def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    from web.db import Database, DatabaseError

    with pytest.raises(DatabaseError, match="must start with sqlite"):
        Database("mysql://x")
