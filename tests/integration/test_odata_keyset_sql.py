"""Keyset paging on a real (in-memory SQLite) table: pages of any size, under any order with
nulls, walk the documented order exactly once (the table: tests/support/odata_tables.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select

from gateway.odata.paging import after, order_clauses
from tests.support.odata_tables import keyset_metadata, rows_table


@pytest.fixture(scope="module")
def db() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    keyset_metadata.create_all(engine)
    yield engine
    engine.dispose()


def _python_order(rows: list[dict[str, Any]], spec: list[tuple[str, bool]]) -> list[int]:
    """The documented order: by spec, nulls first ascending and last descending, then by id."""

    def cmp(x: dict[str, Any], y: dict[str, Any]) -> int:
        for name, desc in [*spec, ("id", False)]:
            u, v = x[name], y[name]
            if u == v:
                continue
            if u is None or v is None:
                first_is_null = -1 if u is None else 1
                return -first_is_null if desc else first_is_null
            c = -1 if u < v else 1
            return -c if desc else c
        return 0

    return [r["id"] for r in sorted(rows, key=functools.cmp_to_key(cmp))]


_ROWS = st.lists(
    st.fixed_dictionaries({"a": st.none() | st.integers(0, 3), "b": st.none() | st.sampled_from(["x", "y", "z"])}),
    max_size=25,
)
_SPECS = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.booleans()), max_size=2, unique_by=lambda t: t[0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_ROWS, _SPECS, st.integers(1, 4))
def test_keyset_pages_walk_the_full_order_exactly_once(
    db: Engine, data: list[dict[str, Any]], spec: list[tuple[str, bool]], page: int
) -> None:
    rows = [{"id": i, **r} for i, r in enumerate(data, start=1)]
    with db.begin() as conn:
        conn.execute(rows_table.delete())
        if rows:
            conn.execute(rows_table.insert(), rows)
    c = rows_table.c
    columns = [(c[name], desc, True) for name, desc in spec] + [(c.id, False, False)]
    names = [name for name, _ in spec] + ["id"]
    expected = _python_order(rows, spec)
    with db.connect() as conn:
        ordered = list(conn.execute(select(c.id).order_by(*order_clauses(columns))).scalars())
        assert ordered == expected
        seen: list[int] = []
        last: Any = None
        while True:
            stmt = select(*[c[n] for n in names]).order_by(*order_clauses(columns)).limit(page)
            if last is not None:
                stmt = stmt.where(after(columns, [last._mapping[n] for n in names]))
            got = conn.execute(stmt).all()
            if not got:
                break
            seen += [r.id for r in got]
            last = got[-1]
    assert seen == expected
