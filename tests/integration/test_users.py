"""Users and web service access keys on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from schemas import users as users_module
from schemas.tables import web_service_user
from schemas.users import UserError, UserService

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def service(engine: Any) -> UserService:
    return UserService(engine)


async def test_key_is_44_characters_of_32_random_bytes_stored_only_hashed(service: UserService, engine: Any) -> None:
    await service.add("SALES", roles={"PRODUCT_AVAILABILITY"})
    user, key = await service.change_key("SALES")
    assert len(key) == 44
    assert len(base64.b64decode(key, validate=True)) == 32
    assert user.has_key and user.key_expires_at is None
    async with engine.connect() as conn:
        row = (await conn.execute(select(web_service_user))).one()
    stored = " ".join(str(v) for v in row)
    assert key not in stored
    assert row.key_hash == users_module.hash_secret(key, row.key_salt)
    _user2, key2 = await service.change_key("SALES")
    assert key2 != key


async def test_user_names_are_case_insensitive_and_unique(service: UserService) -> None:
    await service.add("Sales", full_name="Sales availability")
    with pytest.raises(UserError, match=r"The user name SALES already exists\."):
        await service.add("SALES")
    assert (await service.get("sAlEs")).user_name == "Sales"
    _u, key = await service.change_key("sales")
    assert (await service.verify("SALES", key)).user is not None


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "must not be empty"), ("a:b", "cannot contain ':'"), ("x" * 51, "at most 50"), ("tab\there", "control")],
)
async def test_bad_user_names(service: UserService, name: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        await service.add(name)


async def test_roles_are_checked_added_and_removed(service: UserService) -> None:
    with pytest.raises(UserError, match="Unknown role SUPER"):
        await service.add("X", roles={"SUPER"})
    await service.add("X", roles={"INTEGRATION"})
    user = await service.change_roles("X", add={"INTEGRATION_ADMIN"}, remove={"INTEGRATION"})
    assert user.roles == {"INTEGRATION_ADMIN"}
    with pytest.raises(UserError, match="does not exist"):
        await service.change_roles("NOBODY", add={"INTEGRATION"})


async def test_verification_paths(service: UserService) -> None:
    await service.add("A", roles={"INTEGRATION"})
    _u, key = await service.change_key("A")
    assert (await service.verify("A", key)).reason == "ok"
    assert (await service.verify("A", key[:-2] + "AA")).reason == "wrong key"
    assert (await service.verify("B", key)).reason == "unknown user"
    assert (await service.verify("", key)).reason == "unknown user"
    await service.add("NOKEY")
    assert (await service.verify("NOKEY", key)).reason == "user has no key"
    await service.set_enabled("A", False)
    assert (await service.verify("A", key)).reason == "user disabled"
    await service.set_enabled("A", True)
    assert (await service.verify("A", key)).user is not None


async def test_old_key_stops_at_once_without_grace(service: UserService) -> None:
    await service.add("A")
    _u, old = await service.change_key("A", now=NOW)
    _u, new = await service.change_key("A", now=NOW)
    assert (await service.verify("A", old, now=NOW)).user is None
    assert (await service.verify("A", new, now=NOW)).user is not None


async def test_grace_keeps_the_old_key_for_its_minutes(service: UserService) -> None:
    await service.add("A")
    _u, old = await service.change_key("A", now=NOW)
    user, new = await service.change_key("A", grace_minutes=15, now=NOW)
    assert user.previous_key_valid_until == NOW + dt.timedelta(minutes=15)
    assert (await service.verify("A", old, now=NOW + dt.timedelta(minutes=14))).user is not None
    assert (await service.verify("A", new, now=NOW + dt.timedelta(minutes=14))).user is not None
    assert (
        await service.verify("A", old, now=NOW + dt.timedelta(minutes=15))
    ).reason == "previous key, grace period over"
    # A further change ends the grace of the first key at once.
    _u, newer = await service.change_key("A", now=NOW + dt.timedelta(minutes=1))
    assert (await service.verify("A", old, now=NOW + dt.timedelta(minutes=2))).user is None
    assert (await service.verify("A", new, now=NOW + dt.timedelta(minutes=2))).user is None
    assert (await service.verify("A", newer, now=NOW + dt.timedelta(minutes=2))).user is not None


async def test_expiry(service: UserService) -> None:
    await service.add("A")
    expires = NOW + dt.timedelta(days=1)
    user, key = await service.change_key("A", expires_at=expires, now=NOW)
    assert user.key_expires_at == expires
    assert (await service.verify("A", key, now=expires - dt.timedelta(seconds=1))).user is not None
    assert (await service.verify("A", key, now=expires)).reason == "key expired"
    with pytest.raises(UserError, match="must be in the future"):
        await service.change_key("A", expires_at=NOW - dt.timedelta(seconds=1), now=NOW)


async def test_grace_never_outlives_the_old_keys_expiry(service: UserService) -> None:
    await service.add("A")
    expires = NOW + dt.timedelta(minutes=5)
    await service.change_key("A", expires_at=expires, now=NOW)
    user, _key = await service.change_key("A", grace_minutes=60, now=NOW)
    assert user.previous_key_valid_until == expires


async def test_verification_does_the_same_work_whether_or_not_the_user_exists(
    service: UserService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal timing by construction: every path hashes twice and compares twice in constant time."""
    await service.add("A")
    _u, key = await service.change_key("A")
    calls: list[str] = []
    real_compare, real_hash = users_module.hmac.compare_digest, users_module.hash_secret

    def compare(a: str, b: str) -> bool:
        calls.append("compare")
        return real_compare(a, b)

    def hash_(secret: str, salt: str) -> str:
        calls.append("hash")
        return real_hash(secret, salt)

    monkeypatch.setattr(users_module.hmac, "compare_digest", compare)
    monkeypatch.setattr(users_module, "hash_secret", hash_)
    patterns = []
    for name, secret in [("A", key), ("A", "wrong" * 9), ("NOBODY", key), ("", key)]:
        calls.clear()
        await service.verify(name, secret)
        patterns.append(list(calls))
    assert all(p == ["hash", "compare", "hash", "compare"] for p in patterns), patterns


async def test_touch_records_last_use(service: UserService) -> None:
    user = await service.add("A")
    await service.touch([user.id], NOW)
    assert (await service.get("A")).last_used_at == NOW
