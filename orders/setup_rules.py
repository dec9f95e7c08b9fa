"""The setup's rules, pure: given the old setup, a change and the facts read from the database,
the new setup or SetupError with BC's message; and what people see of the setup.

The rules and messages: docs/reference/bc-rules.md §3.1 and §3.3 (the connection setup), §1.4–§1.6
(the OData URL Sales is given, switching the service on and off), §4.5–§4.6 (write-in product,
freight account); the types they work on are in orders/setup.py, the use case that reads the
facts and stores the outcome in orders/change_setup.py.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from orders.settings import ProcessingSettings
from orders.setup import (
    CONNECTION_FIELDS,
    FIELD_BY_NAME,
    SALES_FIELDS,
    ConnectionSetup,
    FieldKind,
    SalesSetup,
    SetupChange,
    SetupError,
    WriteInProductType,
    option_code_error,
)
from schemas import tables as t
from schemas.roles import PRODUCT_AVAILABILITY
from schemas.users import User

MSG_SUBMITTED_ORDERS = "You cannot disable CRM sales order integration when a CRM sales order has the Submitted status."
MSG_AUTO_CREATE_NEEDS_INTEGRATION = (
    "Automatically Create Sales Orders can be turned on only while Sales Order Integration is enabled."
)
MSG_AUTO_QUOTES_NEEDS_INTEGRATION = (
    "Automatically Process Sales Quotes can be turned on only while Sales Order Integration is enabled."
)


@dataclass(frozen=True, slots=True)
class SetupFacts:
    """What the rules need from the database, read before they are applied."""

    default_odata_url: str = ""  # this gateway's V3 address (bc-rules.md §1.4)
    odata_user: User | None = None  # the user the change's odata_username names, if there is one
    submitted_orders_waiting: int = 0  # submitted Sales orders not yet made into BC orders
    # The first of those as (inbox id, Sales order number or id), to name them in the message.
    waiting_orders: tuple[tuple[int, str], ...] = ()
    write_in_product_exists: bool = False  # the item or resource the change's write_in_product names


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What a change comes to: the new connection setup, whether the webhook needs a new secret,
    and the sales_setup columns to store (a mapping column: the entries to set over the stored ones)."""

    connection: ConnectionSetup
    make_webhook_secret: bool
    sales_columns: Mapping[str, object]


_CONNECTION = {d.name for d in CONNECTION_FIELDS}
_HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_RESERVED_HEADERS = {"host", "content-type", "content-length", "connection", "transfer-encoding"}
# The fields whose new value depends on others or on the facts; the rest take their own value.
_RULED = {
    "item_availability_enabled",
    "odata_url",
    "odata_username",
    "sales_order_integration_enabled",
    "auto_create_sales_orders",
    "auto_process_sales_quotes",
}


def apply_change(old: ConnectionSetup, change: SetupChange, facts: SetupFacts) -> ChangeOutcome:
    """The setup after `change`, by BC's rules (bc-rules.md §3.1, §1.6); SetupError if one is broken."""
    for definition in CONNECTION_FIELDS:
        value = getattr(change, definition.name)
        if isinstance(value, str):
            _check_text(definition.name, value, _length(t.connection_setup, definition.name))
    given = {name: check_value(name, value) for name, value in change.given().items() if name in _CONNECTION}
    new = dataclasses.replace(old, **{name: value for name, value in given.items() if name not in _RULED})
    if change.item_availability_enabled is not None:
        on = change.item_availability_enabled
        # Switching off unpublishes the service and forgets the URL. Switching on keeps a URL set
        # on purpose; without one, the URL is this gateway's own, derived whenever it is shown
        # or handed out (see effective_odata_url), so it follows BCGW_PUBLIC_URL.
        new = dataclasses.replace(new, item_availability_enabled=on, odata_url=new.odata_url if on else "")
    if "odata_url" in given:
        # The derived address typed in (the guide offers it) is stored as "derived", not frozen.
        url = given["odata_url"]
        new = dataclasses.replace(new, odata_url="" if url == facts.default_odata_url else url)
    if change.reset_odata_url:
        new = dataclasses.replace(new, odata_url="")
    if "odata_username" in given:
        new = dataclasses.replace(new, odata_username=_odata_user(given["odata_username"], facts))
    if change.sales_order_integration_enabled is not None:
        on = change.sales_order_integration_enabled
        if not on and old.sales_order_integration_enabled and facts.submitted_orders_waiting:
            raise SetupError(submitted_orders_message(facts))
        new = dataclasses.replace(new, sales_order_integration_enabled=on)
        if not on:
            new = dataclasses.replace(new, auto_create_sales_orders=False, auto_process_sales_quotes=False)
    if change.auto_create_sales_orders is not None:
        if change.auto_create_sales_orders and not new.sales_order_integration_enabled:
            raise SetupError(MSG_AUTO_CREATE_NEEDS_INTEGRATION)
        new = dataclasses.replace(new, auto_create_sales_orders=change.auto_create_sales_orders)
    if change.auto_process_sales_quotes is not None:
        # It is the integration that brings quotes, so the same rule as for orders.
        if change.auto_process_sales_quotes and not new.sales_order_integration_enabled:
            raise SetupError(MSG_AUTO_QUOTES_NEEDS_INTEGRATION)
        new = dataclasses.replace(new, auto_process_sales_quotes=change.auto_process_sales_quotes)
    if new.bc_api_mode:
        check_bc_link(new)
    # A secret is made when asked, and the first time the webhook is set up or the sales order
    # integration (which takes webhooks) is switched on.
    make_secret = change.rotate_webhook_secret or (
        new.webhook_secret_hash is None
        and (
            change.webhook_auth_mode is not None
            or change.webhook_header_name is not None
            or new.sales_order_integration_enabled
        )
    )
    return ChangeOutcome(new, make_secret, _sales_columns(change, facts))


def submitted_orders_message(facts: SetupFacts) -> str:
    """BC's sentence, then which orders wait and what a person can do about them."""
    if not facts.waiting_orders:
        return MSG_SUBMITTED_ORDERS
    named = ", ".join(f"{label} (inbox {row_id})" for row_id, label in facts.waiting_orders)
    more = facts.submitted_orders_waiting - len(facts.waiting_orders)
    first = facts.waiting_orders[0][0]
    return (
        f"{MSG_SUBMITTED_ORDERS} Waiting: {named}{f' and {more} more' if more > 0 else ''}. "
        f"Create each in Business Central (bc-gateway orders create ID), or set it aside "
        f"(bc-gateway orders ignore {first} --reason TEXT); 'bc-gateway orders list' shows them all."
    )


def _sales_columns(change: SetupChange, facts: SetupFacts) -> dict[str, object]:
    columns: dict[str, object] = {}
    for definition in SALES_FIELDS:
        value = getattr(change, definition.name)
        if value is None:
            continue
        if definition.name == "write_in_product":
            columns["write_in_product_type"], columns["write_in_product_no"] = _write_in(value, facts)
        elif definition.kind is FieldKind.MAPPING:
            columns[definition.column] = {
                str(number): _option_code(definition.name, number, code) for number, code in value.items()
            }
        else:
            text = check_value(definition.name, value)
            limit = _length(t.sales_setup, definition.name)
            if limit and len(text) > limit:
                raise SetupError(f"{definition.name} can have at most {limit} characters.")
            columns[definition.name] = text
    return columns


def check_value(name: str, value: Any) -> Any:
    """One field's value in its stored form, by its kind; SetupError when the kind refuses it."""
    definition = FIELD_BY_NAME[name]
    if name == "webhook_header_name":
        return check_header_name(value)
    if name == "webhook_auth_mode":
        mode = value.strip().lower()
        if mode not in definition.choices:
            raise SetupError("webhook_auth_mode must be 'header' (with a header name) or 'code'.")
        return mode
    if name == "local_currency_code":
        return value.strip().upper()  # a Code field
    if name in _BC_SERVICES:
        service = value.strip()
        if service and not _SERVICE_NAME.fullmatch(service):
            raise SetupError(
                f"{definition.caption}: '{service}' is not a web service name (letters, digits and _, "
                "as on BC's Web Services page)."
            )
        return service
    if definition.kind is FieldKind.URL:
        return check_url(name, value)
    if definition.kind is FieldKind.CHOICE:
        choice = value.strip().lower()
        if choice not in definition.choices:
            raise SetupError(f"{name} must be one of {', '.join(definition.choices)}.")
        return choice
    if definition.kind is FieldKind.TEXT:
        return value.strip()
    return value


_SERVICE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,239}")
_BC_SERVICES = ("bc_ledger_entries_service", "bc_item_units_service", "bc_resources_service")
_SETUP_TABLE = "Dynamics 365 Connection Setup: Primary Key="


def _must_have_value(name: str) -> SetupError:
    """BC's TestField message for an empty field of the connection setup."""
    return SetupError(f"{FIELD_BY_NAME[name].caption} must have a value in {_SETUP_TABLE}. It cannot be zero or empty.")


def check_bc_link(setup: ConnectionSetup) -> None:
    """In api mode a real BC is the system of record: its address, company and complete credentials
    must be there (bc-api.md §1.1, §2); SetupError in BC's words otherwise."""
    required = ["bc_api_url", "bc_company"]
    required += ["bc_token_url", "bc_client_id", "bc_client_secret"] if setup.bc_auth == "oauth" else []
    required += ["bc_user", "bc_access_key"] if setup.bc_auth == "basic" else []
    for name in required:
        if not str(getattr(setup, name)).strip():
            raise _must_have_value(name)
    url = urlsplit(setup.bc_api_url)
    if "/api/" not in url.path + "/":
        raise SetupError(
            f"{FIELD_BY_NAME['bc_api_url'].caption} '{setup.bc_api_url}' is not an API root: it must end in "
            "/api/v2.0 (online: https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/api/v2.0)."
        )
    if url.query or url.fragment:
        raise SetupError(f"{FIELD_BY_NAME['bc_api_url'].caption} cannot have a query or a fragment.")
    if setup.bc_auth == "basic":
        if (url.hostname or "").lower() == "api.businesscentral.dynamics.com":
            raise SetupError(
                "Business Central online no longer accepts web service access keys (since October 2022): "
                "use --bc-auth oauth with an app registered in Microsoft Entra ID."
            )
        if ":" in setup.bc_user:
            raise SetupError(f"{FIELD_BY_NAME['bc_user'].caption} cannot contain ':'.")


def check_url(name: str, value: str) -> str:
    """An address field: empty, or an absolute http(s) URL (kept without a trailing slash)."""
    _check_text(name, value, _length(t.connection_setup, name))
    text = value.strip().rstrip("/")
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SetupError(f"{name}: '{value}' is not an absolute http:// or https:// address.")
    return text


def check_header_name(value: str) -> str:
    header = value.strip()
    if not _HEADER_TOKEN.fullmatch(header) or header.lower() in _RESERVED_HEADERS:
        raise SetupError(f"'{header}' cannot be used as the webhook header name.")
    return header


def _check_text(name: str, value: str, limit: int | None) -> None:
    if limit and len(value) > limit:
        raise SetupError(f"{name} can have at most {limit} characters.")
    if any(ord(c) < 32 and c not in "\t" for c in value) or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise SetupError(f"{name} cannot contain control characters.")


def _length(table: Any, name: str) -> int | None:
    return getattr(table.c[name].type, "length", None) if name in table.c else None


def _odata_user(name: str, facts: SetupFacts) -> str:
    """The OData user must be an enabled user with the Product Availability role (bc-rules.md §1.5)."""
    if not name:
        return ""
    user = facts.odata_user
    if user is None:
        raise SetupError(f"The user {name} does not exist.")
    if not user.enabled:
        raise SetupError(f"The user {user.user_name} is disabled; the OData web service user must be enabled.")
    if PRODUCT_AVAILABILITY not in user.roles:
        raise SetupError(
            f"The user {user.user_name} does not have the role {PRODUCT_AVAILABILITY} "
            "(Product Availability User), which the item availability web service needs."
        )
    return user.user_name


def parse_write_in(text: str) -> tuple[Literal["item", "resource"], str] | None:
    """'item:NO' or 'resource:NO' as (kind, number); None when the text is not of that form."""
    kind, sep, no = text.partition(":")
    kind = kind.strip().lower()
    if not sep or not no.strip():
        return None
    if kind == "item":
        return "item", no.strip()
    if kind == "resource":
        return "resource", no.strip()
    return None


def _write_in(text: str, facts: SetupFacts) -> tuple[WriteInProductType, str]:
    if not text.strip():
        return "", ""
    parsed = parse_write_in(text)
    if parsed is None:
        raise SetupError("write_in_product takes item:NO or resource:NO.")
    kind, no = parsed
    caption: WriteInProductType = "Item" if kind == "item" else "Resource"
    if not facts.write_in_product_exists:
        raise SetupError(f"The {caption} does not exist. Identification fields and values: No.='{no}'")
    return caption, no


def _option_code(name: str, number: int, code: str) -> str:
    if len(code) > 10:
        raise SetupError(option_code_error(name, number))
    return code.strip().upper()


def with_webhook_secret(setup: ConnectionSetup, secret_hash: str, salt: str) -> ConnectionSetup:
    return dataclasses.replace(setup, webhook_secret_hash=secret_hash, webhook_secret_salt=salt)


# --- addresses, and what people see ---------------------------------------------------------------


def default_odata_url(settings: ProcessingSettings) -> str:
    """The V3 address BC hands to Sales for ProductItemAvailability (bc-rules.md §1.4)."""
    base = settings.external_base()
    company = quote(settings.company.replace("'", "''"), safe="")
    return f"{base}/OData/Company('{company}')/ProductItemAvailability"


def effective_odata_url(setup: ConnectionSetup, settings: ProcessingSettings) -> str:
    """The URL to give Sales for nav_dynamicsnavodataurl: the one set with --odata-url, else this
    gateway's own (stored as "", derived now); "" while the service is not published."""
    if not setup.item_availability_enabled:
        return ""
    return setup.odata_url or default_odata_url(settings)


def webhook_url(settings: ProcessingSettings) -> str:
    return f"{settings.external_base()}/webhooks/dataverse"


def _local(host: str) -> bool:
    """A name or address only this machine (or its own network stack) answers at."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _address_problem(url: str) -> str:
    """Why Sales (or we, calling Sales) cannot use this address in production; "" if it can."""
    parts = urlsplit(url)
    if _local(parts.hostname or ""):
        return "is a loopback address: only this machine can reach it"
    if parts.scheme == "http":
        return "uses plain http: secrets and orders would cross the network unencrypted"
    return ""


def setup_warnings(setup: ConnectionSetup, settings: ProcessingSettings) -> list[str]:
    """Values that will not work with a real Dynamics 365 Sales, for `setup`, `setup show`, the
    admin API and the log at start-up. A setup that connects to no Sales yet (the demo) has none.

    The setup is saved whatever these say: a test environment may mean them (the Sales simulator
    listens on loopback, over http)."""
    connected = bool(setup.sales_url or setup.sales_order_integration_enabled or setup.dataverse_url)
    if not connected:
        return []
    out: list[str] = []
    for name, flag, value in (
        ("Sales URL", "--sales-url", setup.sales_url),
        ("Dataverse URL", "--dataverse-url", setup.dataverse_url),
        ("OAuth token URL", "--dataverse-token-url", setup.dataverse_token_url),
    ):
        problem = _address_problem(value) if value else ""
        if problem:
            out.append(f"The {name} {value} {problem}; set the organisation's https address ({flag}).")
    public = "set BCGW_PUBLIC_URL to the https address Sales reaches this gateway at (see deploy/README.md)"
    if setup.sales_order_integration_enabled:
        hook = webhook_url(settings)
        problem = _address_problem(hook)
        if problem:
            out.append(f"Sales cannot deliver webhooks to {hook}: it {problem}; {public}.")
        if not (setup.dataverse_url and setup.dataverse_token_url and setup.dataverse_client_id):
            out.append(
                "Sales order integration is on but the Dataverse connection is not set up: orders will wait "
                "(bc-gateway setup --dataverse-url ... --dataverse-token-url ... --dataverse-client-id ... "
                "--dataverse-client-secret -; then bc-gateway setup test)."
            )
    odata = effective_odata_url(setup, settings)
    if odata:
        problem = _address_problem(odata)
        if problem:
            where = "--odata-url, or " + public if setup.odata_url else public
            out.append(f"Sales cannot call the item availability service at {odata}: it {problem}; {where}.")
    return out


def mask(value: str) -> str:
    """A secret as people may see it: never whole; the last 4 characters of a long one."""
    if not value:
        return ""
    return "********" + (value[-4:] if len(value) >= 16 else "")


def setup_view(connection: ConnectionSetup, sales: SalesSetup, webhook: str, default_odata: str = "") -> dict[str, Any]:
    """Everything a person may see of the setup, secrets masked (`setup show`, GET /api/setup).
    `odata_url` is the URL Sales is to use (derived from `default_odata` unless one was set)."""
    view: dict[str, Any] = {
        d.name: mask(getattr(connection, d.name)) if d.secret else getattr(connection, d.name)
        for d in CONNECTION_FIELDS
    }
    if connection.item_availability_enabled:
        view["odata_url"] = connection.odata_url or default_odata
    view["webhook_secret"] = "set" if connection.webhook_secret_hash else "not set"
    view["webhook_url"] = webhook
    for d in SALES_FIELDS:
        if d.name == "write_in_product":
            no = sales.write_in_product_no
            view[d.name] = f"{sales.write_in_product_type.lower()}:{no}" if no else ""
        elif d.kind is FieldKind.MAPPING:
            view[d.name] = {str(k): v for k, v in sorted(getattr(sales, d.name).items())}
        else:
            view[d.name] = getattr(sales, d.name)
    return view


def history_entries(
    connection: Mapping[str, tuple[Any, Any]], sales: Mapping[str, tuple[Any, Any]]
) -> list[tuple[str, str, str]]:
    """(field, old, new) for the change log, from the changed columns: secrets never in clear."""
    entries = []
    for name, (before, after) in [*connection.items(), *sales.items()]:
        if name == "webhook_secret_salt":
            continue
        if name == "webhook_secret_hash":
            name, before, after = "webhook_secret", "set" if before else "", "(new secret)"
        elif name in FIELD_BY_NAME and FIELD_BY_NAME[name].secret:
            before, after = mask(before), mask(after)
        entries.append((name, str(before), str(after)))
    return entries
