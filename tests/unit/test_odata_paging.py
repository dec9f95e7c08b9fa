"""Skip tokens (round trip, tampering), and the SQL of the keyset order and "after" predicate.
That the keyset walks the full order exactly once, on a real table: tests/integration/
test_odata_keyset_sql.py."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.odata import edm
from gateway.odata.errors import ODataError
from gateway.odata.paging import after, decode_token, encode_token, fingerprint, order_clauses
from tests.support.odata_tables import rows_table

PROPS = {
    edm.STRING: edm.Property("S", edm.STRING),
    edm.GUID: edm.Property("G", edm.GUID),
    edm.INT32: edm.Property("I", edm.INT32),
    edm.INT64: edm.Property("L", edm.INT64),
    edm.DECIMAL: edm.Property("D", edm.DECIMAL),
    edm.BOOLEAN: edm.Property("B", edm.BOOLEAN),
    edm.DATE: edm.Property("Day", edm.DATE),
    edm.DATETIMEOFFSET: edm.Property("At", edm.DATETIMEOFFSET),
}
VALUES = {
    edm.STRING: st.text(),
    edm.GUID: st.uuids().map(str),
    edm.INT32: st.integers(-(2**31), 2**31 - 1),
    edm.INT64: st.integers(-(2**63), 2**63 - 1),
    edm.DECIMAL: st.decimals(allow_nan=False, allow_infinity=False),
    edm.BOOLEAN: st.booleans(),
    edm.DATE: st.dates(),
    edm.DATETIMEOFFSET: st.datetimes(timezones=st.just(dt.UTC)),
}
FP = fingerprint("Things", "CRONUS", "No ne 'x'", [], (("Qty", True),))


@settings(max_examples=200)
@given(st.data())
def test_tokens_round_trip(data: st.DataObject) -> None:
    types = data.draw(st.lists(st.sampled_from(list(PROPS)), min_size=1, max_size=4))
    props = [PROPS[t] for t in types]
    values = [data.draw(st.none() | VALUES[t]) for t in types]
    token = encode_token(FP, values, props)
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token
    assert decode_token(token, FP, props) == values


def _invalid(token: str, props: list[edm.Property], fp: str = FP) -> None:
    with pytest.raises(ODataError) as info:
        decode_token(token, fp, props)
    assert info.value.status == 400 and info.value.code == "BadRequest_InvalidToken"
    assert "follow the @odata.nextLink" in info.value.message


def _raw(payload: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def test_tokens_are_bound_to_their_query_and_shape() -> None:
    props = [PROPS[edm.DECIMAL], PROPS[edm.STRING]]
    token = encode_token(FP, [Decimal("1.5"), "A"], props)
    _invalid(token, props, fp=fingerprint("Things", "CRONUS", "No ne 'y'", [], (("Qty", True),)))
    _invalid(token, props[:1])
    _invalid(token, [PROPS[edm.INT32], PROPS[edm.STRING]])
    _invalid("garbage!", props)
    _invalid("", props)
    _invalid("ünïcode", props)
    _invalid(_raw({"a": 1}), props)
    _invalid(_raw([FP, "not a list"]), props)
    _invalid(_raw([FP, [True, "A"]]), [PROPS[edm.INT32], PROPS[edm.STRING]])  # a bool is no integer
    _invalid(_raw([FP, [1, "A"]]), [PROPS[edm.BOOLEAN], PROPS[edm.STRING]])
    _invalid(_raw([FP, ["x", "A"]]), [PROPS[edm.DECIMAL], PROPS[edm.STRING]])
    _invalid(_raw([FP, ["2024-13-01", "A"]]), [PROPS[edm.DATE], PROPS[edm.STRING]])
    _invalid(_raw([FP, [[1], "A"]]), [PROPS[edm.DATE], PROPS[edm.STRING]])
    _invalid(_raw([FP, [1, 2]]), props)


@settings(max_examples=200)
@given(st.binary(max_size=80))
def test_tampered_bytes_never_pass_as_another_token(junk: bytes) -> None:
    props = [PROPS[edm.INT32]]
    token = base64.urlsafe_b64encode(junk).decode().rstrip("=")
    try:
        values = decode_token(token, FP, props)
    except ODataError as exc:
        assert exc.code == "BadRequest_InvalidToken"
    else:  # only a genuine payload for this query decodes
        assert encode_token(FP, values, props) == token


# --- the keyset's SQL --------------------------------------------------------------------------


def test_order_clauses_say_where_nulls_go_on_both_databases() -> None:
    c = rows_table.c
    clauses = order_clauses([(c.a, False, True), (c.b, True, True), (c.id, True, False), (c.id, False, False)])
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        sql = str(select(c.id).order_by(*clauses).compile(dialect=dialect))
        order = sql.split("ORDER BY", 1)[1]
        assert "rows.a ASC NULLS FIRST" in order
        assert "rows.b DESC NULLS LAST" in order
        assert "rows.id DESC," in order and order.strip().endswith("rows.id ASC")


def test_after_compiles_to_the_keyset_predicate() -> None:
    c = rows_table.c
    clause = after([(c.a, True, True), (c.id, False, False)], [5, 9])
    sql = str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert sql == "rows.a < 5 OR rows.a IS NULL OR rows.a = 5 AND rows.id > 9"
    clause = after([(c.a, False, True), (c.id, False, False)], [None, 9])
    sql = str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert sql == "rows.a IS NOT NULL OR rows.a IS NULL AND rows.id > 9"
