"""A Dynamics 365 Sales (Dataverse) simulator on a real loopback port.

Sales itself cannot run here, so this speaks its documented wire format instead of stubbing it
(docs/reference/dataverse.md §1–§3): an OAuth 2.0 client-credentials token endpoint, the Web API
(``/api/data/v9.2/``) for the tables the integration reads and writes, and webhook deliveries of
``RemoteExecutionContext`` bodies with Sales' headers, authentication and retry rule.

By concern:
- ``tables``: the tables, their columns and types, state/status pairs and edit rules;
- ``values``: column values as helpers, the Web API and the store hold them, and write checks;
- ``rules``: Sales' validation of master data (required, computed and create-only columns,
  lookups to missing rows, unique keys, units in their unit group, no negative prices);
- ``store``: the rows (``modifiedon``, ``modifiedby``, ``versionnumber``) and what a save does;
- ``documents``: orders and quotes as a salesperson makes and moves them;
- ``webhooks``: steps, deliveries, sync/async modes, Sales' retry rule;
- ``webapi``: the Web API routes, query options, paging, POST/PATCH/DELETE rules, ``$batch``
  with change sets, errors; ``filters``: the ``$filter`` subset;
- ``auth``: the token endpoint and bearer check; ``faults``: failures a test asks for, and the
  service protection limits (52 concurrent requests; requests per window when a test sets it);
- ``app``: ``SalesSimulator``, the facade; ``python -m tests.support.sales_simulator`` runs it alone.

Tables (entity sets): ``salesorders``/``salesorderdetails``, ``quotes``/``quotedetails`` and
``annotations`` (the order flow); and the master data the synchronisation jobs write —
``uomschedules`` (unit groups: a create makes the group's base unit, named ``baseuomname``,
quantity 1, ``isschedulebaseuom``), ``uoms``, ``products`` (``productnumber``, ``name``,
``description``, ``producttypecode``, ``productstructure``, ``price``, ``standardcost``,
``currentcost``, ``quantityonhand``, ``quantitydecimal``, vendor columns, state; lookups
``defaultuomscheduleid``, ``defaultuomid``, ``pricelevelid``, ``transactioncurrencyid``),
``pricelevels`` (price lists), ``productpricelevels`` (price list items: list, product, unit,
``amount``, ``pricingmethodcode``), ``accounts``, ``contacts``, ``transactioncurrencies``,
``systemusers`` (the salesperson ``user_id`` and the application user ``integration_user_id``;
``add_user`` adds more) and ``opportunities`` (owner ``ownerid`` bound as ``/systemusers(<id>)``,
parent account and contact; only an Open one is edited; ``close_opportunity`` wins or loses it,
a PATCH of its state is refused). Every
row has ``createdon``/``modifiedon`` and ``createdby``/``modifiedby`` (``_modifiedby_value``): the
integration user (``integration_user_id``, what WhoAmI answers) for Web API writes, the
salesperson (``user_id``) for helpers. Each organisation starts with the currency, and the unit
group "Default Unit" with its base unit "Primary Unit" (``default_uom_schedule_id``,
``default_uom_id``).

Service protection (docs/reference/dataverse.md §3.5): more than ``max_concurrent_requests`` (52)
Web API requests at once get 429 0x80072326 with ``Retry-After``; ``limit_requests(count,
window, retry_after)`` adds a requests-per-window limit (429 0x80072322); ``fail_next(method,
path, status=429, retry_after=...)`` throttles chosen requests. ``peak_concurrent_requests``
says how many were in flight at most.

Choices where Microsoft's documentation is silent (they are the simulator's, not Dataverse's):
- Lookup annotations (``_x_value@Microsoft.Dynamics.CRM.lookuplogicalname``) are sent only when
  ``Prefer: odata.include-annotations=...`` asks for them, as Dataverse does. FormattedValue
  annotations are not produced.
- ``requestdeliveryby``, ``lastbackofficesubmit``, ``effectivefrom`` and ``effectiveto`` are
  date-only ("YYYY-MM-DD"); ``submitdate``, ``createdon`` and ``modifiedon`` are datetimes ("...Z").
- Collections come back in insertion order; ``$skiptoken`` is keyset-like (rows after the last one
  sent), so rows changed between pages are neither skipped nor repeated.
- Error codes are Dataverse's where known (0x80040217 not found, 0x8006088a unknown set, 0x80072322
  and 0x80072326 throttled, 0x80060888 query syntax, 0x80060882 stale ETag, 0x80040237 duplicate
  record); the texts of refusals (editing a Submitted order, rules.py) and 0x80040203 / 0x80044331
  for Sales' validation are ours.
- A product created through the Web API is Draft (statecode 2) unless the request sets a state or
  ``products_created_active`` is set; BC activates it after the insert.
- A failed ``$batch`` that stops at the first error answers 400 with the answers so far; with
  ``Prefer: odata.continue-on-error`` it answers 200. A change set's rollback also drops its
  asynchronous webhook jobs.
- An Update that changes statecode/statuscode together with other columns is run as two Update
  operations (other columns first, then the state), each delivered on its own. A step's filtering
  attributes are matched against the columns of the whole request, so a step filtered on statecode
  fires for both halves (the double Update of docs/reference/dataverse.md §1.9).
- Changes made through the Web API (the integration user) also trigger deliveries, as they would
  in Sales; ``UserId`` in those contexts is ``integration_user_id``.
- A synchronous (Mode 0) step whose delivery fails rolls the change back: a helper raises
  DeliveryFailed, a Web API write answers 400 0x80040265.
"""

from tests.support.sales_simulator.app import LoggedRequest, SalesSimulator
from tests.support.sales_simulator.auth import TENANT_ID
from tests.support.sales_simulator.errors import DeliveryFailed, SimulatorError
from tests.support.sales_simulator.faults import Fault
from tests.support.sales_simulator.tables import TABLES, Table
from tests.support.sales_simulator.webapi import API
from tests.support.sales_simulator.webhooks import Delivery, Step, Webhook

__all__ = [
    "API",
    "TABLES",
    "TENANT_ID",
    "Delivery",
    "DeliveryFailed",
    "Fault",
    "LoggedRequest",
    "SalesSimulator",
    "SimulatorError",
    "Step",
    "Table",
    "Webhook",
]
