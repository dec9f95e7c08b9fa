"""A Dynamics 365 Sales (Dataverse) simulator on a real loopback port.

Sales itself cannot run here, so this speaks its documented wire format instead of stubbing it
(docs/reference/dataverse.md §1–§3): an OAuth 2.0 client-credentials token endpoint, the Web API
(``/api/data/v9.2/``) for the tables the integration reads and writes, and webhook deliveries of
``RemoteExecutionContext`` bodies with Sales' headers, authentication and retry rule.

By concern:
- ``tables``: the tables, their columns and types, state/status pairs and edit rules;
- ``values``: column values as helpers, the Web API and the store hold them, and write checks;
- ``store``: the rows (``modifiedon``, ``versionnumber``) and what a save does;
- ``documents``: orders and quotes as a salesperson makes and moves them;
- ``webhooks``: steps, deliveries, sync/async modes, Sales' retry rule;
- ``webapi``: the Web API routes, query options, paging, PATCH/POST rules, errors;
- ``auth``: the token endpoint and bearer check; ``faults``: failures a test asks for;
- ``app``: ``SalesSimulator``, the facade; ``python -m tests.support.sales_simulator`` runs it alone.

Choices where Microsoft's documentation is silent (they are the simulator's, not Dataverse's):
- Lookup annotations (``_x_value@Microsoft.Dynamics.CRM.lookuplogicalname``) are sent only when
  ``Prefer: odata.include-annotations=...`` asks for them, as Dataverse does. FormattedValue
  annotations are not produced.
- ``requestdeliveryby``, ``lastbackofficesubmit``, ``effectivefrom`` and ``effectiveto`` are
  date-only ("YYYY-MM-DD"); ``submitdate``, ``createdon`` and ``modifiedon`` are datetimes ("...Z").
- Collections come back in insertion order; ``$skiptoken`` is keyset-like (rows after the last one
  sent), so rows changed between pages are neither skipped nor repeated.
- Error codes are Dataverse's where known (0x80040217 not found, 0x8006088a unknown set, 0x80072322
  throttled, 0x80060888 query syntax); the texts of refusals (editing a Submitted order) are ours.
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
