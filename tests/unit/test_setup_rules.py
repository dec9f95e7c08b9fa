"""The setup's rules, pure: old setup + change + facts -> new setup or BC's message (no database)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from orders.setup import (
    ACTIONS,
    CONNECTION_FIELDS,
    DEFAULT_OPTION_MAPPINGS,
    FIELDS,
    SALES_FIELDS,
    ConnectionSetup,
    FieldKind,
    SalesSetup,
    SetupChange,
    SetupError,
)
from orders.setup_rules import (
    MSG_AUTO_CREATE_NEEDS_INTEGRATION,
    MSG_AUTO_QUOTES_NEEDS_INTEGRATION,
    MSG_SUBMITTED_ORDERS,
    SetupFacts,
    apply_change,
    history_entries,
    mask,
    parse_write_in,
    setup_view,
)
from schemas import tables as t
from schemas.users import User

DEFAULT_URL = "http://127.0.0.1:8080/OData/Company('CRONUS')/ProductItemAvailability"
FACTS = SetupFacts(default_odata_url=DEFAULT_URL)
INTEGRATED = ConnectionSetup(sales_order_integration_enabled=True, webhook_secret_hash="h", webhook_secret_salt="s")


def user(
    name: str = "SALES", enabled: bool = True, roles: frozenset[str] = frozenset({"PRODUCT_AVAILABILITY"})
) -> User:
    return User(
        id=1,
        user_name=name,
        full_name="",
        enabled=enabled,
        roles=roles,
        has_key=True,
        key_created_at=None,
        key_expires_at=None,
        previous_key_valid_until=None,
        last_used_at=None,
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )


def apply(old: ConnectionSetup = ConnectionSetup(), facts: SetupFacts = FACTS, **values: Any) -> ConnectionSetup:
    return apply_change(old, SetupChange(**values), facts).connection


def refused(old: ConnectionSetup = ConnectionSetup(), facts: SetupFacts = FACTS, **values: Any) -> str:
    with pytest.raises(SetupError) as exc:
        apply_change(old, SetupChange(**values), facts)
    return str(exc.value)


# --- the field definitions ----------------------------------------------------------------------


def test_every_stored_connection_column_is_a_field_except_the_webhook_secret() -> None:
    columns = {c.name for c in t.connection_setup.c} - {"id", "webhook_secret_hash", "webhook_secret_salt"}
    assert {d.name for d in CONNECTION_FIELDS} == columns
    assert [d.name for d in CONNECTION_FIELDS] == [
        f.name for f in dataclasses.fields(ConnectionSetup) if not f.name.startswith("webhook_secret_")
    ]


def test_every_sales_field_has_its_attribute_and_columns() -> None:
    attributes = {f.name for f in dataclasses.fields(SalesSetup)}
    for d in SALES_FIELDS:
        if d.kind is FieldKind.MAPPING:
            assert d.name in attributes and d.column in t.sales_setup.c and d.mapping_key
        elif d.name == "write_in_product":
            assert {"write_in_product_type", "write_in_product_no"} <= attributes
        else:
            assert d.name in attributes and d.name in t.sales_setup.c


def test_definitions_are_complete_and_flags_unique() -> None:
    flags = [flag for d in (*FIELDS, *ACTIONS) for flag in (d.flag, d.off_flag) if flag]
    assert len(flags) == len(set(flags))
    for d in (*FIELDS, *ACTIONS):
        assert d.caption and d.help and d.question
        # A switch has an off flag, or takes on|off (--error-notes on|off).
        assert (d.off_flag != "" or d.metavar == "on|off") == (d.kind is FieldKind.BOOL and not d.action)
    assert [d.name for d in ACTIONS] == ["reset_odata_url", "rotate_webhook_secret"]
    assert [d.name for d in FIELDS if d.secret] == ["dataverse_client_secret", "bc_client_secret", "bc_access_key"]


# --- parsing a change ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nonsense": 1, "other": 2}, "Unknown setup field(s): nonsense, other."),
        ({"item_availability_enabled": "yes"}, "item_availability_enabled must be true or false."),
        ({"rotate_webhook_secret": 1}, "rotate_webhook_secret must be true or false."),
        ({"sales_url": 5}, "sales_url must be text."),
        ({"local_currency_code": None}, "local_currency_code must be text."),
        ({"payment_terms": [1]}, "payment_terms must be an object of Sales option value -> BC code."),
        ({"payment_terms": {"x": "A"}}, "payment_terms: 'x' is not a Sales option value (a number)."),
        ({"shipping_agents": {"2": 5}}, "shipping_agents: the BC code for 2 must be text of at most 10 characters."),
        # Switches are checked before texts, as before.
        ({"sales_url": 5, "auto_create_sales_orders": "on"}, "auto_create_sales_orders must be true or false."),
    ],
)
def test_parse_refuses_unknown_fields_and_wrong_types(values: dict[str, Any], message: str) -> None:
    with pytest.raises(SetupError) as exc:
        SetupChange.parse(values)
    assert str(exc.value) == message


def test_parse_gives_a_typed_change() -> None:
    change = SetupChange.parse({"sales_url": "https://x", "reset_odata_url": True, "payment_terms": {"01": "n30"}})
    assert change == SetupChange(sales_url="https://x", reset_odata_url=True, payment_terms={1: "n30"})
    assert change.given() == {"sales_url": "https://x", "payment_terms": {1: "n30"}}


# --- the connection setup's rules ---------------------------------------------------------------


def test_switching_availability_on_fills_the_url_and_off_empties_it() -> None:
    on = apply(item_availability_enabled=True)
    assert on.item_availability_enabled and on.odata_url == ""  # "": derived when shown
    kept = apply(ConnectionSetup(odata_url="https://bc.example.com/x"), item_availability_enabled=True)
    assert kept.odata_url == "https://bc.example.com/x"
    assert apply(on, item_availability_enabled=False).odata_url == ""
    given = apply(item_availability_enabled=False, odata_url="https://bc.example.com/y/")
    assert given.odata_url == "https://bc.example.com/y"
    assert apply(given, odata_url="https://elsewhere", reset_odata_url=True).odata_url == ""
    assert apply(on, odata_url=DEFAULT_URL).odata_url == ""  # the derived one typed in stays derived


@pytest.mark.parametrize(
    ("facts_user", "message"),
    [
        (None, "The user NOBODY does not exist."),
        (user("Gone", enabled=False), "The user Gone is disabled; the OData web service user must be enabled."),
        (
            user("Ops", roles=frozenset({"INTEGRATION"})),
            "The user Ops does not have the role PRODUCT_AVAILABILITY (Product Availability User), "
            "which the item availability web service needs.",
        ),
    ],
)
def test_the_odata_user_must_be_an_enabled_availability_user(facts_user: User | None, message: str) -> None:
    facts = dataclasses.replace(FACTS, odata_user=facts_user)
    assert refused(facts=facts, odata_username=" NOBODY ") == message


def test_the_odata_user_is_stored_as_the_user_spells_it_and_blank_clears_it() -> None:
    facts = dataclasses.replace(FACTS, odata_user=user("Sales"))
    chosen = apply(facts=facts, odata_username="sales")
    assert chosen.odata_username == "Sales"
    assert apply(chosen, odata_username="  ").odata_username == ""


def test_integration_cannot_be_switched_off_while_submitted_orders_wait() -> None:
    waiting = dataclasses.replace(FACTS, submitted_orders_waiting=1)
    assert refused(INTEGRATED, waiting, sales_order_integration_enabled=False) == MSG_SUBMITTED_ORDERS
    # Already off, or nothing waiting: allowed.
    assert not apply(ConnectionSetup(), waiting, sales_order_integration_enabled=False).sales_order_integration_enabled
    off = apply(
        dataclasses.replace(INTEGRATED, auto_create_sales_orders=True, auto_process_sales_quotes=True),
        sales_order_integration_enabled=False,
    )
    assert not (off.sales_order_integration_enabled or off.auto_create_sales_orders or off.auto_process_sales_quotes)


def test_automatic_processing_needs_the_integration() -> None:
    assert refused(auto_create_sales_orders=True) == MSG_AUTO_CREATE_NEEDS_INTEGRATION
    assert refused(auto_process_sales_quotes=True) == MSG_AUTO_QUOTES_NEEDS_INTEGRATION
    both = apply(sales_order_integration_enabled=True, auto_create_sales_orders=True, auto_process_sales_quotes=True)
    assert both.auto_create_sales_orders and both.auto_process_sales_quotes
    # Switching off is always allowed.
    assert not apply(auto_create_sales_orders=False).auto_create_sales_orders


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sales_url": "contoso"}, "sales_url: 'contoso' is not an absolute http:// or https:// address."),
        ({"dataverse_token_url": "ftp://x"}, "dataverse_token_url: 'ftp://x' is not an absolute http"),
        ({"webhook_auth_mode": "basic"}, "webhook_auth_mode must be 'header' (with a header name) or 'code'."),
        ({"webhook_header_name": "bad header"}, "'bad header' cannot be used as the webhook header name."),
        ({"webhook_header_name": "Content-Length"}, "'Content-Length' cannot be used as the webhook header name."),
        ({"sdk_version": "9" * 31}, "sdk_version can have at most 30 characters."),
        ({"odata_url": "https://" + "a" * 250}, "odata_url can have at most 250 characters."),
        ({"dataverse_client_id": "id\x00"}, "dataverse_client_id cannot contain control characters."),
    ],
)
def test_values_the_fields_refuse(values: dict[str, Any], message: str) -> None:
    assert refused(**values).startswith(message)


def test_plain_fields_take_their_value_in_stored_form() -> None:
    new = apply(
        sales_url="https://contoso.crm4.dynamics.com/",
        webhook_auth_mode=" Code ",
        webhook_header_name=" x-bc-secret ",
        sdk_version=" 9.1 ",
        dataverse_client_id=" app ",
        dataverse_client_secret=" kept as typed ",
    )
    assert (new.sales_url, new.webhook_auth_mode, new.webhook_header_name) == (
        "https://contoso.crm4.dynamics.com",
        "code",
        "x-bc-secret",
    )
    assert (new.sdk_version, new.dataverse_client_id, new.dataverse_client_secret) == ("9.1", "app", " kept as typed ")


@pytest.mark.parametrize(
    ("old", "values", "makes_secret"),
    [
        (ConnectionSetup(), {"webhook_auth_mode": "code"}, True),  # the first webhook setup
        (ConnectionSetup(), {"webhook_header_name": "x-key"}, True),
        (ConnectionSetup(), {"sales_order_integration_enabled": True}, True),
        (ConnectionSetup(), {"sdk_version": "9.1"}, False),
        (INTEGRATED, {"webhook_auth_mode": "code"}, False),  # it has one already
        (INTEGRATED, {"rotate_webhook_secret": True}, True),
    ],
)
def test_when_the_webhook_gets_a_new_secret(old: ConnectionSetup, values: dict[str, Any], makes_secret: bool) -> None:
    assert apply_change(old, SetupChange(**values), FACTS).make_webhook_secret is makes_secret


# --- the Sales & Receivables setup's rules ------------------------------------------------------


def sales_columns(facts: SetupFacts = FACTS, **values: Any) -> dict[str, object]:
    return dict(apply_change(ConnectionSetup(), SetupChange(**values), facts).sales_columns)


def test_write_in_product() -> None:
    exists = dataclasses.replace(FACTS, write_in_product_exists=True)
    assert sales_columns(exists, write_in_product=" Resource: LINA ") == {
        "write_in_product_type": "Resource",
        "write_in_product_no": "LINA",
    }
    assert sales_columns(write_in_product="") == {"write_in_product_type": "", "write_in_product_no": ""}
    assert refused(write_in_product="item") == "write_in_product takes item:NO or resource:NO."
    assert refused(write_in_product="colour:RED") == "write_in_product takes item:NO or resource:NO."
    assert refused(write_in_product="item:NOPE") == (
        "The Item does not exist. Identification fields and values: No.='NOPE'"
    )
    assert parse_write_in("ITEM:1896-S") == ("item", "1896-S") and parse_write_in("item:") is None


def test_currency_freight_account_and_option_mappings() -> None:
    assert sales_columns(local_currency_code=" usd ", freight_gl_account=" 6710 ") == {
        "local_currency_code": "USD",
        "freight_gl_account": "6710",
    }
    assert refused(local_currency_code="X" * 11) == "local_currency_code can have at most 10 characters."
    assert refused(freight_gl_account="1" * 21) == "freight_gl_account can have at most 20 characters."
    assert sales_columns(payment_terms={1: " n30 ", 2: ""}) == {"payment_terms_map": {"1": "N30", "2": ""}}
    assert refused(shipment_methods={3: "TOO-LONG-CODE"}) == (
        "shipment_methods: the BC code for 3 must be text of at most 10 characters."
    )


def test_sales_setup_from_its_row_merges_the_default_mappings() -> None:
    row = {
        "write_in_product_type": "Item",
        "write_in_product_no": "1896-S",
        "local_currency_code": "USD",
        "freight_gl_account": "6710",
        "payment_terms_map": {"1": "N30", "2": "", "9": "NINE"},
        "shipping_agent_map": {},
        "shipment_method_map": {},
    }
    setup = SalesSetup.from_row(row)
    assert setup.payment_terms == {1: "N30", 3: "NET 45", 4: "NET 60", 9: "NINE"}  # "" removes a default
    assert setup.shipping_agents == DEFAULT_OPTION_MAPPINGS.shipping_agents
    assert (setup.write_in_product_no, setup.local_currency_code) == ("1896-S", "USD")


# --- what people see ----------------------------------------------------------------------------


def test_the_view_masks_secrets_in_the_order_people_read() -> None:
    setup = dataclasses.replace(INTEGRATED, dataverse_client_secret="abcdefghijklmnop-9876")
    view = setup_view(setup, SalesSetup(write_in_product_type="Resource", write_in_product_no="LINA"), "W")
    names = list(view)
    assert names[: len(CONNECTION_FIELDS)] == [d.name for d in CONNECTION_FIELDS]
    assert names[len(CONNECTION_FIELDS) : len(CONNECTION_FIELDS) + 2] == ["webhook_secret", "webhook_url"]
    assert names[len(CONNECTION_FIELDS) + 2 :] == [d.name for d in SALES_FIELDS]
    assert view["dataverse_client_secret"] == "********9876" and view["webhook_secret"] == "set"
    assert view["write_in_product"] == "resource:LINA" and view["payment_terms"]["2"] == "2%10NET30"
    assert mask("short") == "********" and mask("") == ""


def test_the_history_never_holds_a_secret() -> None:
    entries = history_entries(
        {
            "sales_url": ("", "https://x"),
            "dataverse_client_secret": ("", "super-secret-value-1234"),
            "webhook_secret_hash": (None, "hash"),
            "webhook_secret_salt": (None, "salt"),
        },
        {"payment_terms_map": ("{}", '{"1": "N30"}')},
    )
    assert entries == [
        ("sales_url", "", "https://x"),
        ("dataverse_client_secret", "", "********1234"),
        ("webhook_secret", "", "(new secret)"),
        ("payment_terms_map", "{}", '{"1": "N30"}'),
    ]
