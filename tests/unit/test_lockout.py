"""The lockout's rules (gateway/auth.py) without HTTP or a database: the sliding window, and that
no subject is a user name alone."""

from __future__ import annotations

from gateway.auth import Limit, Lockout, user_at, wait_for


def test_wait_for_counts_only_the_window() -> None:
    limit = Limit(3, 100.0)
    assert wait_for([], limit, 50.0) == 0
    assert wait_for([10.0, 20.0], limit, 50.0) == 0
    assert wait_for([10.0, 20.0, 30.0], limit, 50.0) == 60.0  # the oldest of the three leaves at 110
    assert wait_for([10.0, 20.0, 30.0], limit, 111.0) == 0
    assert wait_for([1.0, 10.0, 20.0, 30.0], limit, 50.0) == 60.0


async def test_a_user_locked_at_one_address_is_not_locked_at_another() -> None:
    now = [1000.0]
    lockout = Lockout({"user": Limit(2, 60.0), "addr": Limit(5, 60.0), "hook": Limit(1, 60.0)}, lambda: now[0])
    for _ in range(2):
        await lockout.fail(user_at("SALES", "203.0.113.1"), "addr:203.0.113.1")
    assert await lockout.retry_after(user_at("sales", "203.0.113.1"), "addr:203.0.113.1") == 61
    assert await lockout.retry_after(user_at("SALES", "198.51.100.7"), "addr:198.51.100.7") == 0
    now[0] += 61
    assert await lockout.retry_after(user_at("SALES", "203.0.113.1"), "addr:203.0.113.1") == 0


def test_the_user_subject_does_not_carry_the_name() -> None:
    key_like = "a" * 43 + "="
    subject = user_at(key_like, "203.0.113.1")
    assert key_like not in subject and subject.endswith("@203.0.113.1")
    assert user_at("Sales", "x") == user_at("SALES", "x")  # names compare without regard to case
