"""The Dataverse write surface without HTTP: binds, filters and queries, and the $batch body and
answer (orders/dataverse/writes.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from orders.dataverse.writes import (
    ChangeSet,
    DataverseNotFound,
    DataversePreconditionFailed,
    Operation,
    Query,
    all_of,
    bind,
    build_batch,
    changes_query,
    chunks,
    entity_id,
    etag_of,
    odata_datetime,
    parse_batch,
    unbind,
)

BASE = "https://contoso.crm4.dynamics.com/api/data/v9.2/"
ACCOUNT = "6f1c2b3a-0d4e-4f5a-8b6c-7d8e9fa0b1c2"
PRODUCT = "11111111-2222-3333-4444-555555555555"


def test_bind_builds_the_navigation_property_and_path() -> None:
    assert bind("parentcustomerid_account", "accounts", ACCOUNT.upper()) == {
        "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})"
    }
    assert unbind("primarycontactid") == {"primarycontactid@odata.bind": None}
    with pytest.raises(ValueError, match="not a GUID"):
        bind("defaultuomid", "uoms", "1) or (1")


def test_entity_id_and_etag() -> None:
    assert entity_id(f"{BASE}accounts({ACCOUNT.upper()})") == ACCOUNT
    assert entity_id("") is None and entity_id(None) is None
    assert etag_of({"@odata.etag": 'W/"4711"'}) == 'W/"4711"'
    assert etag_of({}) is None


def test_odata_datetime_is_utc_with_milliseconds_only_when_present() -> None:
    moment = datetime(2024, 5, 30, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert odata_datetime(moment) == "2024-05-30T12:00:00Z"
    assert odata_datetime(moment - timedelta(milliseconds=999)) == "2024-05-30T11:59:59.001Z"
    with pytest.raises(ValueError, match="time zone"):
        odata_datetime(datetime(2024, 5, 30))


def test_all_of_parenthesises_alternatives() -> None:
    assert all_of(None, "") is None
    assert all_of("statecode eq 0") == "statecode eq 0"
    assert all_of("a eq 1 or a eq null", "b eq 2") == "(a eq 1 or a eq null) and b eq 2"


def test_query_path_encodes_options() -> None:
    query = Query("products", ("productid", "name"), "productnumber eq 'A B'", ("modifiedon asc",), 1)
    assert query.path() == (
        "products?$select=productid,name&$filter=productnumber%20eq%20'A%20B'&$orderby=modifiedon%20asc&$top=1"
    )
    assert Query("accounts").path() == "accounts"
    with pytest.raises(ValueError):
        Query("accounts", top=0).path()


def test_changes_query_reads_after_the_mark_without_the_integration_users_writes() -> None:
    user = "AAAAAAAA-0000-0000-0000-000000000001"
    query = changes_query(
        "products",
        datetime(2024, 5, 30, 12, tzinfo=UTC),
        filter="producttypecode eq 1 or producttypecode eq 3",
        not_modified_by=user,
        select=["productid"],
    )
    assert query.filter == (
        "(producttypecode eq 1 or producttypecode eq 3) and modifiedon gt 2024-05-30T12:00:00Z"
        f" and _modifiedby_value ne {user.lower()}"
    )
    assert query.orderby == ("modifiedon asc",) and query.select == ("productid",)
    assert changes_query("accounts", None).filter is None


def test_operations_carry_if_match_and_prefer() -> None:
    update = Operation.update("products", PRODUCT, {"price": Decimal("12.5")}, if_match='W/"7"')
    assert (
        update.method == "PATCH" and update.path == f"products({PRODUCT})" and update.headers == {"If-Match": 'W/"7"'}
    )
    assert Operation.update("products", PRODUCT, {}).headers == {"If-Match": "*"}
    assert Operation.update("products", PRODUCT, {}, if_match=None).headers == {}
    assert Operation.create("accounts", {"name": "X"}, return_row=True).headers == {"Prefer": "return=representation"}
    assert Operation.delete("accounts", ACCOUNT).method == "DELETE"
    with pytest.raises(ValueError, match="writes only"):
        ChangeSet([Operation.get(Query("accounts"))])
    with pytest.raises(ValueError):
        ChangeSet([])


def test_build_batch_nests_change_sets_with_content_ids() -> None:
    items = [
        ChangeSet(
            [
                Operation.create("uomschedules", {"name": "NAV PCS", "baseuomname": "PCS"}, content_id="1"),
                Operation.update("products", PRODUCT, {"price": Decimal("12.5")}),
            ]
        ),
        Operation.get(Query("accounts", top=1)),
    ]
    content_type, body = build_batch(items, BASE, "batch_X")
    assert content_type == "multipart/mixed; boundary=batch_X"
    text = body.decode()
    assert text.startswith("--batch_X\r\nContent-Type: multipart/mixed; boundary=changeset_")
    assert text.endswith("--batch_X--\r\n")
    assert "Content-ID: 1\r\n\r\nPOST " + BASE + "uomschedules HTTP/1.1\r\n" in text
    assert "Content-ID: 2\r\n\r\nPATCH " + BASE + f"products({PRODUCT}) HTTP/1.1\r\n" in text
    assert "If-Match: *\r\n" in text
    assert '{"price": 12.5}' in text  # money as a JSON number, never a string
    assert "Content-Type: application/json; type=entry" in text
    assert f"GET {BASE}accounts?$top=1 HTTP/1.1" in text
    assert text.count("Content-Transfer-Encoding: binary") == 3


def _answer(*parts: str, boundary: str = "batchresponse_1") -> tuple[str, str]:
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n"
    return f"multipart/mixed; boundary={boundary}", body


def _http(status: str, headers: str = "", body: object = None, content_id: str | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    payload = json.dumps(body) if body is not None else ""
    return f"{head}\r\nHTTP/1.1 {status}\r\n{headers}\r\n{payload}"


def test_parse_batch_gives_one_result_per_operation() -> None:
    created = Operation.create("accounts", {"name": "A"}, content_id="1")
    updated = Operation.update("products", PRODUCT, {"name": "B"}, content_id="2")
    read = Operation.get(Query("accounts"))
    changeset = (
        "Content-Type: multipart/mixed; boundary=changesetresponse_9\r\n\r\n"
        + "--changesetresponse_9\r\n"
        + _http("204 No Content", f"OData-EntityId: {BASE}accounts({ACCOUNT})\r\n", content_id="1")
        + "\r\n--changesetresponse_9\r\n"
        + _http("204 No Content", f"OData-EntityId: {BASE}products({PRODUCT})\r\n", content_id="2")
        + "\r\n--changesetresponse_9--"
    )
    content_type, text = _answer(changeset, _http("200 OK", "Content-Type: application/json\r\n", {"value": []}))
    results = parse_batch([ChangeSet([created, updated]), read], content_type, text)
    assert [r.status for r in results] == [204, 204, 200]
    assert [r.ok for r in results] == [True, True, True]
    assert results[0].id == ACCOUNT and results[1].id == PRODUCT
    assert results[2].body == {"value": []}


def test_a_failed_change_set_is_rolled_back_and_the_rest_not_run() -> None:
    first = Operation.create("products", {"name": "A"}, content_id="1")
    second = Operation.update("products", PRODUCT, {"name": "B"}, if_match='W/"1"', content_id="2")
    after = Operation.delete("accounts", ACCOUNT)
    error = {"error": {"code": "0x80060882", "message": "The version of the existing record doesn't match."}}
    content_type, text = _answer(_http("412 Precondition Failed", "Content-Type: application/json\r\n", error, "2"))
    results = parse_batch([ChangeSet([first, second]), after], content_type, text)
    assert [r.rolled_back for r in results] == [True, True, False]
    assert [r.failed for r in results] == [False, True, False]
    assert isinstance(results[1].error, DataversePreconditionFailed)
    assert results[0].error is results[1].error and results[1].error.code == "0x80060882"
    assert results[2].status is None and not results[2].ok and results[2].error is None


def test_a_single_failed_operation_has_its_own_error() -> None:
    missing = Operation.update("accounts", ACCOUNT, {"name": "A"})
    error = {"error": {"code": "0x80040217", "message": "Entity 'account' With Id = x Does Not Exist"}}
    content_type, text = _answer(_http("404 Not Found", "", error))
    [result] = parse_batch([missing], content_type, text)
    assert isinstance(result.error, DataverseNotFound) and not result.rolled_back
    assert result.error.call == f"$batch PATCH accounts({ACCOUNT})"


def test_chunks_keep_change_sets_whole_within_the_limit() -> None:
    ops = [Operation.delete("accounts", ACCOUNT) for _ in range(3)]
    groups = chunks([ops[0], ChangeSet(ops[:2]), ops[2]], limit=3)
    assert [len(g) for g in groups] == [2, 1]
    with pytest.raises(ValueError, match="exceeds"):
        chunks([ChangeSet(ops)], limit=2)


def test_bind_lookup_names_the_navigation_property() -> None:
    from orders.dataverse.writes import bind_lookup, logical_name

    assert bind_lookup("products", "defaultuomid", "uoms", PRODUCT) == {"defaultuomid@odata.bind": f"/uoms({PRODUCT})"}
    assert bind_lookup("contacts", "parentcustomerid", "accounts", ACCOUNT) == {
        "parentcustomerid_account@odata.bind": f"/accounts({ACCOUNT})"
    }
    assert bind_lookup("accounts", "transactioncurrencyid", "transactioncurrencies", PRODUCT) == {
        "transactioncurrencyid@odata.bind": f"/transactioncurrencies({PRODUCT})"
    }
    assert (
        logical_name("transactioncurrencies") == "transactioncurrency" and logical_name("uomschedules") == "uomschedule"
    )
