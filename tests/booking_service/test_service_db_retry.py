"""Deadlock victims run again; every other database error propagates at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from booking_service.db import TRANSIENT_ATTEMPTS, is_transient, retry_transient


class _DriverError(Exception):
    """Stands in for a DB-API exception: pymysql puts the MySQL error number in args[0]."""


def _db_error(code: object, sqlstate: str | None = None) -> sa.exc.OperationalError:
    orig = _DriverError(code, "message")
    if sqlstate is not None:
        orig.sqlstate = sqlstate  # type: ignore[attr-defined]
    return sa.exc.OperationalError("INSERT …", {}, orig)


@pytest.mark.parametrize(("code", "sqlstate", "transient"), [
    (1213, None, True),     # InnoDB: Deadlock found when trying to get lock
    (1205, None, True),     # Lock wait timeout exceeded
    (1062, None, False),    # Duplicate entry: a real answer, not a retry
    (2006, None, False),    # server gone away: not ours to paper over
    ("x", "40P01", True),   # PostgreSQL deadlock_detected
    ("x", "40001", True),   # PostgreSQL serialization_failure
    ("x", "23505", False),  # PostgreSQL unique_violation
])
def test_which_errors_are_transient(code: object, sqlstate: str | None, transient: bool) -> None:
    assert is_transient(_db_error(code, sqlstate)) is transient


def test_non_database_errors_are_not_transient() -> None:
    assert not is_transient(ValueError("1213"))


async def test_a_deadlock_victim_runs_again_until_it_commits() -> None:
    attempts = []

    async def transaction() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _db_error(1213)
        return "committed"

    assert await retry_transient(transaction) == "committed"
    assert len(attempts) == 3


async def test_other_errors_are_not_retried() -> None:
    attempts = []

    async def transaction() -> None:
        attempts.append(1)
        raise _db_error(1062)

    with pytest.raises(sa.exc.OperationalError):
        await retry_transient(transaction)
    assert len(attempts) == 1


async def test_retries_are_bounded() -> None:
    attempts = []

    async def transaction() -> None:
        attempts.append(1)
        raise _db_error(1213)

    with pytest.raises(sa.exc.OperationalError):
        await retry_transient(transaction)
    assert len(attempts) == TRANSIENT_ATTEMPTS
