"""BC's rules for turning a submitted Sales order into a BC sales order: the customer, its coupling,
and the currency (docs/reference/bc-rules.md §4.2 C1–C5, C13; §4.4)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from orders.conversion_inputs import BcCustomer
from orders.dataverse.records import (
    Currency,
    LookupRef,
)
from tests.support.builders import (
    ACCOUNT_ID,
    CONTACT_ID,
    COUPLINGS,
    EUR_ID,
    USD,
    USD_ID,
    P,
    account,
    contact,
    convert,
    error,
    order,
    order_input,
)

# ---- customer -------------------------------------------------------------------------------


def test_no_customer() -> None:
    assert error(order_input(order(customer=None))) == (
        f"{P} There is no potential customer defined on the Dataverse sales order Chairs for the Seattle office."
    )


def test_no_customer_without_a_name_names_the_number() -> None:
    assert error(order_input(order(customer=None, name=None))) == (
        f"{P} There is no potential customer defined on the Dataverse sales order ORD-01001-B7K2Q9."
    )


@pytest.mark.parametrize("customertypecode", [None, 1, 2, 4, 11, 12])
def test_account_that_is_not_a_customer(customertypecode: int | None) -> None:
    assert error(order_input(account=account(customertypecode=customertypecode))) == (
        f"{P} The selected type of the Fabrikam, Inc. Dataverse account is not customer."
    )


def test_contact_as_customer_uses_its_parent_account() -> None:
    inp = order_input(order(customer=LookupRef("contact", CONTACT_ID)), contact=contact(), account=account())
    assert convert(inp).header.sell_to_customer_no == "10000"


def test_contacts_parent_account_type_is_not_checked() -> None:
    # BC checks the type only when the order's customer is the account itself.
    inp = order_input(
        order(customer=LookupRef("contact", CONTACT_ID)), contact=contact(), account=account(customertypecode=1)
    )
    assert convert(inp).header.sell_to_customer_no == "10000"


NO_ACCOUNT = (
    "Sales order Chairs for the Seattle office is created for {kind} {guid}, "
    "which doesn't correspond to an account in Dataverse."
)


@pytest.mark.parametrize(
    ("customer", "changes"),
    [
        pytest.param(LookupRef("account", ACCOUNT_ID), {"account": None}, id="account-not-read"),
        pytest.param(
            LookupRef("account", ACCOUNT_ID),
            {"account": account(accountid="a1e2c3d4-9999-ef11-a671-000d3a4b5c6d")},
            id="another-account",
        ),
        pytest.param(LookupRef("contact", CONTACT_ID), {"contact": None}, id="contact-not-read"),
        pytest.param(LookupRef("contact", CONTACT_ID), {"contact": contact(parentcustomer=None)}, id="no-parent"),
        pytest.param(
            LookupRef("contact", CONTACT_ID),
            {"contact": contact(parentcustomer=LookupRef("contact", ACCOUNT_ID))},
            id="parent-is-a-contact",
        ),
        pytest.param(LookupRef("contact", CONTACT_ID), {"contact": contact(), "account": None}, id="parent-not-read"),
        pytest.param(LookupRef("lead", CONTACT_ID), {}, id="another-table"),
    ],
)
def test_customer_that_is_not_an_account(customer: LookupRef, changes: dict[str, Any]) -> None:
    message = error(order_input(order(customer=customer), **changes))
    assert message == NO_ACCOUNT.format(kind=customer.logical_name, guid="{" + customer.id.upper() + "}")


def test_account_not_coupled() -> None:
    couplings = dataclasses.replace(COUPLINGS, account_to_customer={})
    assert error(order_input(couplings=couplings)) == (
        f"{P} There is no customer coupled to Dataverse account Fabrikam, Inc.."
    )


def test_coupled_customer_missing() -> None:
    assert error(order_input(customers={})) == (
        "The Customer does not exist. Identification fields and values: No.='10000'"
    )


def test_coupled_customer_blocked() -> None:
    customers = {"10000": BcCustomer(no="10000", name="Fabrikam, Inc.", blocked=True)}
    assert error(order_input(customers=customers)) == (
        "You cannot create this type of document when Customer 10000 is blocked with type All"
    )


def test_couplings_keys_are_normalised() -> None:
    couplings = dataclasses.replace(COUPLINGS, account_to_customer={"{" + ACCOUNT_ID.upper() + "}": "10000"})
    assert convert(order_input(couplings=couplings)).header.sell_to_customer_no == "10000"


# ---- currency -------------------------------------------------------------------------------


def test_no_currency_is_blank() -> None:
    assert convert(order_input(order(transactioncurrencyid=None), currency=None)).header.currency_code == ""


@pytest.mark.parametrize("iso", ["USD", "usd", " US D "])
def test_local_currency_is_blank(iso: str) -> None:
    currency = dataclasses.replace(USD, isocurrencycode=iso)
    assert convert(order_input(currency=currency)).header.currency_code == ""


def test_foreign_currency() -> None:
    eur = Currency(transactioncurrencyid=EUR_ID, isocurrencycode="EUR")
    assert convert(order_input(order(transactioncurrencyid=EUR_ID), currency=eur)).header.currency_code == "EUR"


def test_currency_bc_does_not_have() -> None:
    nok = Currency(transactioncurrencyid=EUR_ID, isocurrencycode="NOK")
    assert error(order_input(order(transactioncurrencyid=EUR_ID), currency=nok)) == (
        "The Currency does not exist. Identification fields and values: Code='NOK'"
    )


@pytest.mark.parametrize("currency", [None, Currency(transactioncurrencyid=USD_ID, isocurrencycode="EUR")])
def test_currency_not_found_in_dataverse(currency: Currency | None) -> None:
    assert error(order_input(order(transactioncurrencyid=EUR_ID), currency=currency)) == (
        f"Cannot find the currency with the value '{{{EUR_ID.upper()}}}' in Dataverse."
    )


# ---- properties -----------------------------------------------------------------------------


def test_record_names_in_messages_are_blank_when_sales_has_none() -> None:
    inp = order_input(account=account(name=None), couplings=dataclasses.replace(COUPLINGS, account_to_customer={}))
    assert error(inp) == f"{P} There is no customer coupled to Dataverse account ."
