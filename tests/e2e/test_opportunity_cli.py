"""`bc-gateway salespeople|contacts|opportunities`: BC's Relationship Management in the embedded BC
as a user meets it — headers, what an empty list says and what to do next, BC's rules and messages,
and the coupling of a salesperson to its Sales user."""

from __future__ import annotations

from typing import Any

from tests.support.helpers import cli


async def test_salespeople_contacts_and_opportunities_from_the_command_line(
    settings: Any, demo: Any, engine: Any
) -> None:
    for group, empty in (
        ("salespeople", "No salespeople. Next: bc-gateway salespeople add CODE --name NAME --email E-MAIL."),
        (
            "contacts",
            "No contacts. Next: bc-gateway contacts add CT000001 --type Company --name NAME --customer CUSTOMER_NO.",
        ),
        (
            "opportunities",
            "No opportunities. Next: bc-gateway opportunities add --contact NO --description TEXT --salesperson CODE.",
        ),
    ):
        code, out, err = await cli(settings, group, "list")
        assert (code, out.strip()) == (0, empty), err

    code, out, err = await cli(settings, "salespeople", "add", "ao", "--name", "Alicia Ortiz", "--email", "a@x.example")
    assert code == 0, err
    assert out.splitlines()[0] == "Created salesperson AO."
    assert "bc-gateway couple --match salesperson" in out
    await cli(
        settings, "contacts", "add", "KT100", "--type", "Company", "--name", "Adatum Corporation", "--customer", "10000"
    )
    code, out, err = await cli(
        settings, "contacts", "add", "KT101", "--company", "KT100", "--first-name", "Robin", "--surname", "Counts"
    )
    assert code == 0, err
    code, _o, err = await cli(settings, "contacts", "add", "KT102", "--company", "KT999")
    assert (code, err.strip()) == (
        1,
        "bc-gateway: The Contact does not exist. Identification fields and values: No.='KT999'",
    )
    code, out, _e = await cli(settings, "contacts", "list")
    assert [line.split()[:2] for line in out.splitlines()] == [
        ["NO.", "TYPE"],
        ["KT100", "Company"],
        ["KT101", "Person"],
    ]
    assert out.splitlines()[2].split() == ["KT101", "Person", "Robin", "Counts", "KT100", "10000"]

    code, out, err = await cli(
        settings,
        "opportunities",
        "add",
        "--contact",
        "KT101",
        "--description",
        "Furniture",
        "--salesperson",
        "AO",
        "--value",
        "12500",
        "--closing-date",
        "2027-02-15",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "Created opportunity OP000001.",
        "Next: it goes to Sales with the OPPORTUNITY job; now: bc-gateway sync now OPPORTUNITY "
        "(or wait for its job: bc-gateway sync status)",
    ]
    for args, message in (
        (
            ("--salesperson", "ZZ"),
            "The Salesperson/Purchaser does not exist. Identification fields and values: Code='ZZ'",
        ),
        (("--probability", "120"), "The value in the Probability % field must be between 0 and 100."),
    ):
        code, _o, err = await cli(settings, "opportunities", "add", "--contact", "KT101", "--description", "x", *args)
        assert (code, err.strip()) == (1, f"bc-gateway: {message}")
    code, out, _e = await cli(settings, "opportunities", "list")
    header, row = out.splitlines()
    assert header.split()[:3] == ["NO.", "DESCRIPTION", "CONTACT"]
    assert row.split() == [
        "OP000001",
        "Furniture",
        "KT101",
        "AO",
        "Not",
        "Started",
        "12500.00",
        "2027-02-15",
        "-",
        "(not",
        "in",
        "Sales",
        "yet)",
    ]

    code, out, _e = await cli(settings, "opportunities", "edit", "OP000001", "--status", "Won")
    assert out.splitlines() == [
        "Changed opportunity OP000001.",
        "It is closed (Won): OPPORTUNITY no longer sends it to Sales, as in BC.",
    ]
    code, _o, err = await cli(settings, "opportunities", "edit", "OP000001", "--description", "again")
    assert (code, err.strip()) == (
        1,
        "bc-gateway: Closed must be equal to 'No'  in Opportunity: No.=OP000001. Current value is 'Yes'.",
    )
    code, out, _e = await cli(settings, "opportunities", "list", "--open")
    assert out.startswith("No open opportunities.")

    # A salesperson is coupled to its Sales user like any record; the list shows it.
    user = "5a1e5000-0000-4000-8000-000000000001"
    code, out, err = await cli(settings, "couple", "salesperson", "AO", user)
    assert (code, out.strip()) == (0, f"Coupled salesperson AO to Dynamics 365 Sales record {user}."), err
    code, out, _e = await cli(settings, "salespeople", "list")
    assert out.splitlines()[1].split() == ["AO", "Alicia", "Ortiz", "a@x.example", user]
