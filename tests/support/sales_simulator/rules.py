"""Sales' validation of the master data the synchronisation jobs write, and what Sales does on
its own when such a row is saved (a unit group makes its base unit; a contact's full name).

Run on every Web API create and update (single requests and ``$batch`` operations alike), after
the values are read from JSON (values.coerce_wire) and before the row is saved. Helpers
(``SalesSimulator.insert``/``add_*``) bypass it, so a test can still plant a row Sales would
refuse.

What is refused, and how (status, code: message):

- a required column missing or emptied (``Table.required``) — 400 0x80040203: "Required field
  '<column>' is missing: a <table> needs it.";
- a column Sales computes (``Table.computed``: ``fullname``, ``isschedulebaseuom``, a unit group's
  ``baseuom``, a price list item's ``productnumber``) — 400 0x80040203 (Dataverse's metadata marks
  them read-only; refusing, rather than ignoring, them is the simulator's choice, so that a client
  that sends one finds out);
- a price list item in another currency than its price list — 400 0x80040203;
- a create-only column changed (``Table.create_only``: ``productstructure``, a unit's group, a
  price list item's list and product, a currency's ISO code, a price list's currency) — 400
  0x80040203;
- a negative price, cost, stock or amount (``Table.not_negative``) — 400 0x80044331: "A
  validation error occurred. The value … is outside the valid range. …";
- an option value a column does not have (a post's source and type, a price list item's pricing
  method and quantity selling option) — 400 0x80040203, on create and update;
- a lookup to a row that does not exist — 404 0x80040217: "Entity '<table>' With Id = <id> Does
  Not Exist";
- a duplicate of a unique key (``Table.unique``: product number, ISO currency code, unit group
  name, a unit's name in its group, price list name, one price per list, product and unit) — 412
  0x80040237: "A record with matching key values already exists: …";
- a product whose default unit is not in its unit group; a price list item whose unit is not in
  the product's group; a unit whose base unit is in another group — 400 0x80040203;
- a state/status pair the table does not have — 400 0x80040203;
- an opportunity closed (statecode 1 Won, 2 Lost) by an update instead of WinOpportunity /
  LoseOpportunity, or emptied of its owner — 400 0x80040203; an edit of a closed one is refused
  as for any row outside its table's editable state (tables.check_update).
- a note (``annotation``) whose ``objecttypecode`` is not its ``objectid``'s table — 400
  0x80040203 (Sales sets ``objecttypecode`` from ``objectid``, and ``filesize`` 0 for a note that
  is not an attachment); a ``subject`` over 500 or a ``notetext`` over 100,000 characters — 400
  0x80044331 "A validation error occurred. The length of the '<column>' attribute of the
  'annotation' entity exceeded the maximum allowed length of '<n>'.".

The codes 0x80040217 (not found) and 0x80040237 (duplicate record) are Dataverse's; the texts,
and 0x80040203 / 0x80044331 for the other refusals, are the simulator's choice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tests.support.dataverse_payloads import EntityReference
from tests.support.sales_simulator.errors import Refused
from tests.support.sales_simulator.tables import SET_OF, TABLES, Table

if TYPE_CHECKING:
    from tests.support.sales_simulator.app import SalesSimulator

_MAX_VALUE = Decimal("1000000000000")


# Option sets Sales checks on create (a post's Source: 1 Auto Post, 2 Manual Post; its Type).
# A price list item's Pricing Method (1 Currency Amount, 2 Percent of List, 3-6 markup / margin on
# current or standard cost) and Quantity Selling Option (1 No Control, 2 Whole, 3 Whole and Fractional).
OPTION_VALUES: dict[str, dict[str, tuple[int, ...]]] = {
    "post": {"source": (1, 2), "type": (1, 2, 3, 4, 5, 6, 7)},
    "productpricelevel": {"pricingmethodcode": (1, 2, 3, 4, 5, 6), "quantitysellingcode": (1, 2, 3)},
}


# The lengths Dataverse keeps for a note's text columns (docs/reference/dataverse.md §2).
ANNOTATION_LENGTHS = {"subject": 500, "notetext": 100_000}


def invalid(message: str) -> Refused:
    return Refused(400, "0x80040203", message)


def check_create(sim: SalesSimulator, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values Sales stores for a new row, or Refused. Columns Dataverse keeps itself
    (``Table.read_only``: created/modified on and by, the version) are ignored, as Dataverse does."""
    data = {k: v for k, v in values.items() if k not in table.read_only}
    for name in table.computed:
        if name in data:
            raise invalid(f"The '{name}' column of {table.logical_name} is set by Dataverse and cannot be written.")
    if table.logical_name == "product" and "statecode" not in data:
        # Sales creates products as Draft unless the organisation creates them active.
        data["statecode"], data["statuscode"] = (0, 1) if sim.products_created_active else (2, 0)
    if "statecode" in data or "statuscode" in data:
        _check_state(table, data, data.get("statecode", 0))
    merged = {**dict.fromkeys((*table.columns, *table.lookups)), **data}
    for name in sorted(table.required):
        if name == "ownerid" and name not in data:
            continue  # the creator owns the row (store.new_row)
        if merged.get(name) in (None, ""):
            raise invalid(f"Required field '{name}' is missing: a {table.logical_name} needs it.")
    _check_options(table, data)
    if table.logical_name == "post":
        ref = data.get("regardingobjectid")
        data["regardingobjecttypecode"] = getattr(ref, "logical_name", None)
    if table.logical_name == "annotation":
        _annotation(data, merged, creating=True)
    _check_common(sim, table, data, merged, None)
    _derive(sim, table, data, merged)
    if table.logical_name == "uom":
        data["isschedulebaseuom"] = False  # only the unit a group makes for itself is its base
    return data


def check_change(
    sim: SalesSimulator, table: Table, row: Mapping[str, Any], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """The changes with what Sales derives from them, or Refused (state pairs are checked by
    tables.check_update)."""
    if table.logical_name == "post":  # a post on the wall is never changed, only deleted
        raise Refused(400, "0x80040800", "The 'Update' method does not support entities of type 'post'.")
    _check_options(table, changes)
    for name, value in changes.items():
        if name in table.computed:
            raise invalid(f"The '{name}' column of {table.logical_name} is set by Dataverse and cannot be written.")
        if name in table.create_only and value != row.get(name):
            raise invalid(f"The '{name}' column of {table.logical_name} cannot be changed once the row exists.")
        if name in table.required and value in (None, ""):
            raise invalid(f"Required field '{name}' is missing: a {table.logical_name} needs it.")
    merged = {**row, **changes}
    if table.logical_name == "annotation":
        changes = dict(changes)
        _annotation(changes, merged, creating=False)
    _check_common(sim, table, dict(changes), merged, row[table.key])
    derived = dict(changes)
    _derive(sim, table, derived, merged)
    return derived


def check_state_request(table: Table, state: Mapping[str, Any]) -> None:
    """A state change asked for by a Web API update: an opportunity is closed by the
    WinOpportunity / LoseOpportunity actions, never by setting its statecode (Dataverse refuses;
    the wording is the simulator's)."""
    if table.logical_name == "opportunity" and state.get("statecode") not in (None, 0):
        raise invalid(
            "An opportunity cannot be set to Won or Lost by an update: use the WinOpportunity or "
            "LoseOpportunity action."
        )


def after_create(sim: SalesSimulator, table: Table, row_id: str) -> None:
    """What Sales adds by itself once the row exists: a unit group's base unit."""
    if table.logical_name != "uomschedule":
        return
    schedule = sim.store.rows["uomschedules"][row_id]
    unit_id = str(uuid.uuid4())
    sim.store.put(
        "uoms",
        unit_id,
        {
            "name": schedule["baseuomname"],
            "quantity": Decimal(1),
            "isschedulebaseuom": True,
            "uomscheduleid": EntityReference("uomschedule", row_id),
            "baseuom": None,
        },
        user_id=schedule["modifiedby"].id if schedule.get("modifiedby") else None,
    )
    schedule["baseuom"] = EntityReference("uom", unit_id)


def _check_options(table: Table, data: Mapping[str, Any]) -> None:
    for name, accepted in OPTION_VALUES.get(table.logical_name, {}).items():
        if name in data and data[name] is not None and data[name] not in accepted:
            raise invalid(
                f"A validation error occurred. The value {data[name]} of '{name}' on record of type "
                f"'{table.logical_name}' is outside the valid range. Accepted Values: {','.join(map(str, accepted))}"
            )


def _annotation(data: dict[str, Any], merged: Mapping[str, Any], *, creating: bool) -> None:
    """A note: ``objecttypecode`` follows ``objectid`` (a different one is refused), a note that
    is not an attachment has ``filesize`` 0, and ``subject`` / ``notetext`` keep Dataverse's
    lengths (500; 100,000)."""
    ref = merged.get("objectid")
    if isinstance(ref, EntityReference):
        given = data.get("objecttypecode")
        if given not in (None, ref.logical_name):
            raise invalid(
                f"The objecttypecode '{given}' of the annotation does not match its objectid, a {ref.logical_name}."
            )
        if "objectid" in data or given is not None:
            data["objecttypecode"] = ref.logical_name
    if creating and not data.get("isdocument"):
        data["isdocument"] = False
        data["filesize"] = 0
    for name, limit in ANNOTATION_LENGTHS.items():
        value = data.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise Refused(
                400,
                "0x80044331",
                f"A validation error occurred. The length of the '{name}' attribute of the 'annotation' entity "
                f"exceeded the maximum allowed length of '{limit}'.",
            )


def _check_state(table: Table, data: dict[str, Any], state: int) -> None:
    if not table.states:
        return
    if data.get("statuscode") in (None, -1):
        data["statuscode"] = table.states.get(state, (None,))[0]
    if state not in table.states or data["statuscode"] not in table.states[state]:
        raise invalid(
            f"{data['statuscode']} is not a valid status code for state code "
            f"{table.logical_name}State.{state} on {table.logical_name}."
        )


def _check_common(
    sim: SalesSimulator, table: Table, written: Mapping[str, Any], merged: Mapping[str, Any], row_id: str | None
) -> None:
    for name in table.not_negative:
        value = written.get(name)
        if isinstance(value, Decimal) and not Decimal(0) <= value <= _MAX_VALUE:
            raise Refused(
                400,
                "0x80044331",
                f"A validation error occurred. The value {value} of '{name}' on record of type "
                f"'{table.logical_name}' is outside the valid range. Accepted range: 0 to {_MAX_VALUE}.",
            )
    for name in table.lookups:
        ref = written.get(name)
        if isinstance(ref, EntityReference):
            target(sim, ref)
    for key in table.unique:
        if not any(name in written for name in key) and row_id is not None:
            continue
        wanted = [_comparable(merged.get(name)) for name in key]
        if any(value is None for value in wanted):
            continue
        for other in sim.store.holders(table.entity_set, key, tuple(wanted), _comparable):
            if other[table.key] == row_id:
                continue
            if [_comparable(other.get(name)) for name in key] == wanted:
                shown = ", ".join(f"{name} = {_shown(merged.get(name))}" for name in key)
                raise Refused(412, "0x80040237", f"A record with matching key values already exists: {shown}.")


def target(sim: SalesSimulator, ref: EntityReference) -> dict[str, Any] | None:
    """The row a lookup points to (None for tables the simulator keeps no rows of); Refused 404
    when it does not exist."""
    entity_set = SET_OF.get(ref.logical_name)
    if entity_set not in TABLES:
        return None
    row = sim.store.rows[entity_set].get(ref.id)
    if row is None:
        raise Refused(404, "0x80040217", f"Entity '{ref.logical_name}' With Id = {ref.id} Does Not Exist")
    return row


def _comparable(value: Any) -> Any:
    if isinstance(value, EntityReference):
        return value.id
    if isinstance(value, str):
        return value.casefold()
    return value


def _shown(value: Any) -> str:
    return value.id if isinstance(value, EntityReference) else repr(value)


def _unit_group(sim: SalesSimulator, uom_ref: EntityReference | None) -> tuple[dict[str, Any] | None, str | None]:
    unit = target(sim, uom_ref) if uom_ref is not None else None
    group = unit.get("uomscheduleid") if unit is not None else None
    return unit, group.id if isinstance(group, EntityReference) else None


def _derive(sim: SalesSimulator, table: Table, data: dict[str, Any], merged: Mapping[str, Any]) -> None:
    """Cross-row checks and the columns Sales fills in."""
    name = table.logical_name
    if name in ("contact", "systemuser") and ("firstname" in data or "lastname" in data):
        parts = [merged.get("firstname"), merged.get("lastname")]
        data["fullname"] = " ".join(p for p in parts if p) or None
    elif name == "product" and ("defaultuomid" in data or "defaultuomscheduleid" in data):
        unit, group = _unit_group(sim, merged.get("defaultuomid"))
        schedule = merged.get("defaultuomscheduleid")
        if unit is not None and schedule is not None and group != schedule.id:
            raise invalid(
                f"The unit '{unit['name']}' is not in the unit group of product {merged.get('productnumber')}: "
                "choose a default unit of the product's unit group."
            )
    elif name == "uom" and ("baseuom" in data or "quantity" in data):
        quantity = merged.get("quantity")
        if isinstance(quantity, Decimal) and quantity <= 0:
            raise invalid("The quantity of a unit must be greater than 0.")
        base, group = _unit_group(sim, merged.get("baseuom"))
        schedule = merged.get("uomscheduleid")
        if base is not None and schedule is not None and group != schedule.id:
            raise invalid(f"The base unit '{base['name']}' is not in this unit's unit group.")
    elif name == "transactioncurrency" and "exchangerate" in data:
        rate = data["exchangerate"]
        if rate is not None and rate <= 0:
            raise Refused(
                400,
                "0x80044331",
                f"A validation error occurred. The value {rate} of 'exchangerate' on record of type "
                "'transactioncurrency' is outside the valid range. Accepted range: 0.0000000001 to 100000000000.",
            )
    elif name == "invoicedetail" and ("invoiceid" in data or "productid" in data or "uomid" in data):
        invoice = target(sim, merged["invoiceid"]) if merged.get("invoiceid") is not None else None
        if invoice is not None and invoice.get("statecode") != 0:
            raise invalid("Lines can be added to or changed on an Active invoice only.")
        if merged.get("productid") is not None:
            if merged.get("uomid") is None:
                raise invalid("Required field 'uomid' is missing: an invoicedetail of an existing product needs it.")
            if invoice is not None and invoice.get("pricelevelid") is None:
                raise invalid("The invoice has no price list: an existing product cannot be added to it.")
        elif not merged.get("productdescription"):
            raise invalid("A write-in invoicedetail needs productdescription.")
    elif name == "productpricelevel" and ("uomid" in data or "productid" in data or "pricelevelid" in data):
        product = target(sim, merged["productid"]) if merged.get("productid") is not None else None
        unit, group = _unit_group(sim, merged.get("uomid"))
        product_group = product.get("defaultuomscheduleid") if product is not None else None
        if unit is not None and isinstance(product_group, EntityReference) and group != product_group.id:
            raise invalid(
                f"The unit '{unit['name']}' is not in the unit group of product {product.get('productnumber')}."  # type: ignore[union-attr]
            )
        if group is not None:
            data["uomscheduleid"] = EntityReference("uomschedule", group)
        if product is not None:
            data["productnumber"] = product.get("productnumber")
        price_list = target(sim, merged["pricelevelid"]) if merged.get("pricelevelid") is not None else None
        if price_list is not None:
            currency = price_list.get("transactioncurrencyid")
            given = data.get("transactioncurrencyid")
            if isinstance(given, EntityReference) and isinstance(currency, EntityReference) and given.id != currency.id:
                raise invalid("The currency of a price list item must be the currency of its price list.")
            data["transactioncurrencyid"] = currency
