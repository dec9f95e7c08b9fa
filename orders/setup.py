"""The integration's setup, typed: BC's "Dynamics 365 Connection Setup" and the parts of its
"Sales & Receivables Setup" that order processing uses.

- :class:`ConnectionSetup` (one record) and :class:`SalesSetup` (one per company): the values.
- :class:`SetupChange`: a change, every field optional. Its attributes declare the editable
  fields (:data:`FIELDS`: caption, kind, help, CLI flag): the CLI builds its flags and prompts
  from them, the admin API checks its JSON by them, `setup show` and the history mask secrets by
  them.

The rules are in orders/setup_rules.py (pure), the use case that applies them and stores the
result in orders/change_setup.py. The fields: docs/reference/bc-rules.md §3.1 (connection setup),
§4.4–§4.6 (write-in product, freight account, option mappings); the webhook's authentication
modes: docs/reference/dataverse.md §1.7.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

WriteInProductType = Literal["Item", "Resource", ""]


class SetupError(ValueError):
    """A change that breaks one of the setup's rules; the message is the rule."""


class FieldKind(StrEnum):
    BOOL = "bool"
    TEXT = "text"
    URL = "url"  # empty, or an absolute http(s) address; kept without a trailing slash
    # Text that is never shown back: masked in views and in the history. (A kind, not a password.)
    SECRET = "secret"  # noqa: S105
    CHOICE = "choice"  # one of `choices`
    MAPPING = "mapping"  # Sales option value -> BC code


@dataclass(frozen=True, slots=True)
class SetupField:
    """One editable field (or action) of the setup, as people meet it."""

    name: str
    caption: str  # BC's caption where BC has the field
    kind: FieldKind
    help: str
    flag: str = ""  # the CLI option; "" where the CLI sets it with a combined option
    off_flag: str = ""  # BOOL: the option that switches it off
    metavar: str = ""
    prompt: str = ""  # the interactive guide's question, if not the caption
    choices: tuple[str, ...] = ()
    mapping_key: str = ""  # MAPPING: KIND in `--option-mapping KIND:VALUE=CODE`
    column: str = ""  # MAPPING: the sales_setup column with the stored overrides
    action: bool = False  # not a value but something to do (reset_odata_url, rotate_webhook_secret)

    @property
    def secret(self) -> bool:
        return self.kind is FieldKind.SECRET

    @property
    def question(self) -> str:
        return self.prompt or self.caption


_DEFINES = "setup_field"


def _field(caption: str, kind: FieldKind, help: str, **options: Any) -> Any:
    """A SetupChange attribute (None: unchanged) that declares its field."""
    return field(default=None, metadata={_DEFINES: SetupField("", caption, kind, help, **options)})


def _action(caption: str, help: str, flag: str) -> Any:
    definition = SetupField("", caption, FieldKind.BOOL, help, flag=flag, action=True)
    return field(default=False, metadata={_DEFINES: definition})


K = FieldKind  # short, for the declarations below

BC_MODES = ("embedded", "api")
BC_AUTHS = ("oauth", "basic")
# The scope when bc_scope is empty (bc-api.md §2.1); orders.bc_link.config.BC_SCOPE, which this
# module, below the BC link, cannot import.
DEFAULT_BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"


@dataclass(frozen=True, kw_only=True, slots=True)
class SetupChange:
    """A change to the setup: the fields to set (None leaves one as it is) and the actions.

    Build it with :meth:`parse` from the admin API's JSON or the CLI's flags, or directly in code.
    """

    # BC's "Dynamics 365 Connection Setup" (bc-rules.md §3.1), then how Sales' webhook and Web API
    # are reached; in this order `setup show` prints them.
    sales_url: str | None = _field(
        "Dynamics 365 Sales URL", K.URL, "the Sales instance's address, e.g. https://contoso.crm4.dynamics.com",
        flag="--sales-url",
    )  # fmt: skip
    item_availability_enabled: bool | None = _field(
        "Item Availability Web Service Enabled", K.BOOL,
        "publish ProductItemAvailability for Sales (off: unpublished, the OData URL emptied)",
        flag="--enable-item-availability", off_flag="--disable-item-availability",
        prompt="Do you want to enable the Item Availability web service?",
    )  # fmt: skip
    odata_url: str | None = _field(
        "Business Central OData Web Service URL", K.URL, "the V3 address Sales calls (filled in when switched on)",
        flag="--odata-url", prompt="Business Central OData Web Service URL (the one Sales calls)",
    )  # fmt: skip
    odata_username: str | None = _field(
        "Business Central OData Web Service Username", K.TEXT,
        "the user Sales queries availability as (role PRODUCT_AVAILABILITY)",
        flag="--odata-user", prompt="Business Central OData Web Service Username (role PRODUCT_AVAILABILITY)",
    )  # fmt: skip
    sales_order_integration_enabled: bool | None = _field(
        "Sales Order Integration is Enabled", K.BOOL, "take submitted Sales orders and activated or won quotes",
        flag="--enable-sales-order-integration", off_flag="--disable-sales-order-integration",
        prompt="Enable sales order integration?",
    )  # fmt: skip
    auto_create_sales_orders: bool | None = _field(
        "Automatically Create Sales Orders", K.BOOL, "make the BC order as soon as a Sales order is submitted",
        flag="--auto-create-sales-orders", off_flag="--no-auto-create-sales-orders",
        prompt="Automatically create sales orders?",
    )  # fmt: skip
    auto_process_sales_quotes: bool | None = _field(
        "Automatically Process Sales Quotes", K.BOOL, "make or update the BC quote as soon as a Sales quote changes",
        flag="--auto-process-sales-quotes", off_flag="--no-auto-process-sales-quotes",
        prompt="Automatically process sales quotes?",
    )  # fmt: skip
    sdk_version: str | None = _field(
        "Dynamics 365 SDK Version", K.TEXT, "on-premises Sales only: the SDK version to connect with",
        flag="--sdk-version", prompt="Dynamics 365 SDK version (on-premises Sales only; Enter to skip)",
    )  # fmt: skip
    webhook_auth_mode: str | None = _field(
        "Webhook Authentication", K.CHOICE, "header (Sales' HttpHeader) or code (Sales' WebhookKey)",
        choices=("header", "code"), prompt="Webhook authentication: header or code",
    )  # fmt: skip
    webhook_header_name: str | None = _field(
        "Webhook Header Name", K.TEXT, "the header that carries the webhook secret", prompt="Webhook header name"
    )
    dataverse_url: str | None = _field(
        "Dataverse URL", K.URL, "the organisation's address for the Web API", flag="--dataverse-url",
        prompt="Dataverse organisation URL (https://org.crm.dynamics.com)",
    )  # fmt: skip
    dataverse_token_url: str | None = _field(
        "OAuth Token URL", K.URL, "where the application user gets its tokens", flag="--dataverse-token-url",
        prompt="OAuth token URL",
    )  # fmt: skip
    dataverse_client_id: str | None = _field(
        "Client ID", K.TEXT, "the application user's application (client) id", flag="--dataverse-client-id",
        prompt="Application (client) id",
    )  # fmt: skip
    dataverse_client_secret: str | None = _field(
        "Client Secret", K.SECRET, "the application user's client secret", flag="--dataverse-client-secret",
        prompt="Client secret (Enter keeps the current one)",
    )  # fmt: skip
    # The link to a real Business Central (docs/bc-link.md; bc-api.md §1.1, §2, §9): in "api" mode
    # its API v2.0 is the system of record and our BC tables are its mirror.
    bc_mode: str | None = _field(
        "Business Central Mode", K.CHOICE,
        "embedded: BC's records live in the gateway's tables (no BC needed); api: a real BC, through its "
        "API v2.0, is the system of record and the gateway mirrors it",
        flag="--bc-mode", choices=BC_MODES, metavar="embedded|api",
        prompt="Business Central: embedded (the gateway's own tables) or api (a real BC through its API v2.0)",
    )  # fmt: skip
    bc_api_url: str | None = _field(
        "Business Central API URL", K.URL,
        "the API v2.0 root: https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/api/v2.0 "
        "online, https://<host>:<port>/<instance>/api/v2.0 on-premises",
        flag="--bc-api-url", metavar="URL", prompt="Business Central API URL (ending in /api/v2.0)",
    )  # fmt: skip
    bc_company: str | None = _field(
        "Business Central Company", K.TEXT, "the BC company's name or id", flag="--bc-company", metavar="NAME|ID",
        prompt="Business Central company (name or id)",
    )  # fmt: skip
    bc_auth: str | None = _field(
        "Business Central Authentication", K.CHOICE,
        "oauth (an app registered in Microsoft Entra ID; BC online) or basic (a user and web service access "
        "key; on-premises only)",
        flag="--bc-auth", choices=BC_AUTHS, metavar="oauth|basic",
        prompt="Business Central authentication: oauth or basic",
    )  # fmt: skip
    bc_token_url: str | None = _field(
        "Business Central OAuth Token URL", K.URL,
        "the app's token endpoint, e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
        flag="--bc-token-url", metavar="URL", prompt="OAuth token URL for Business Central",
    )  # fmt: skip
    bc_client_id: str | None = _field(
        "Business Central Client ID", K.TEXT, "the Entra app's application (client) id", flag="--bc-client-id",
        metavar="ID", prompt="Application (client) id for Business Central",
    )  # fmt: skip
    bc_client_secret: str | None = _field(
        "Business Central Client Secret", K.SECRET, "the Entra app's client secret (stored encrypted)",
        flag="--bc-client-secret", metavar="SECRET",
        prompt="Client secret for Business Central (Enter keeps the current one)",
    )  # fmt: skip
    bc_scope: str | None = _field(
        "Business Central OAuth Scope", K.TEXT, f"empty: {DEFAULT_BC_SCOPE}", flag="--bc-scope", metavar="SCOPE",
        prompt="OAuth scope (Enter for BC's)",
    )  # fmt: skip
    bc_user: str | None = _field(
        "Business Central User Name", K.TEXT, "the BC user whose web service access key is used (basic)",
        flag="--bc-user", metavar="USER", prompt="Business Central user name",
    )  # fmt: skip
    bc_access_key: str | None = _field(
        "Business Central Web Service Access Key", K.SECRET, "that user's web service access key (stored encrypted)",
        flag="--bc-access-key", metavar="KEY", prompt="Web service access key (Enter keeps the current one)",
    )  # fmt: skip
    bc_odata_url: str | None = _field(
        "Business Central OData V4 URL", K.URL,
        "the ODataV4 root of published pages; empty: the API URL with /api/... replaced by /ODataV4",
        flag="--bc-odata-url", metavar="URL", prompt="OData V4 URL of published pages (Enter: derived)",
    )  # fmt: skip
    bc_ledger_entries_service: str | None = _field(
        "Item Ledger Entries Web Service", K.TEXT,
        "service name of page 38 Item Ledger Entries published as a web service (stock per location); "
        "empty: not published",
        flag="--bc-ledger-entries-service", metavar="NAME",
        prompt="Service name of page 38 Item Ledger Entries, if published (e.g. ItemLedgerEntries)",
    )  # fmt: skip
    bc_item_units_service: str | None = _field(
        "Item Units of Measure Web Service", K.TEXT,
        "service name of page 5404 Item Units of Measure published as a web service; empty: not published",
        flag="--bc-item-units-service", metavar="NAME",
        prompt="Service name of page 5404 Item Units of Measure, if published (e.g. ItemUnitsOfMeasure)",
    )  # fmt: skip
    bc_resources_service: str | None = _field(
        "Resources Web Service", K.TEXT,
        "service name of page 77 Resources (or 76 Resource Card) published as a web service; empty: not published",
        flag="--bc-resources-service", metavar="NAME",
        prompt="Service name of page 77 Resources, if published (e.g. Resources)",
    )  # fmt: skip
    # Ours, not BC's (orders/error_notes.py): BC's refusals as notes on the Sales order or quote.
    error_notes: bool | None = _field(
        "Error Notes in Sales", K.BOOL,
        "a note on the Sales order or quote when BC's rules refuse it (BC's message and what to do), and one "
        "when it later becomes a BC document",
        flag="--error-notes", metavar="on|off", prompt="Show BC's errors as notes on the Sales order or quote?",
    )  # fmt: skip
    # BC's "Sales & Receivables Setup" and G/L Setup's "LCY Code", per company (bc-rules.md §4.4–§4.6).
    write_in_product: str | None = _field(
        "Write-in Product", K.TEXT, "the Write-in Product for write-in lines", flag="--write-in-product",
        metavar="item|resource:NO",
    )  # fmt: skip
    local_currency_code: str | None = _field(
        "LCY Code", K.TEXT, "ISO code of the local currency (blank on documents)", flag="--local-currency",
        metavar="CODE",
    )  # fmt: skip
    freight_gl_account: str | None = _field(
        "Freight G/L Acc. No.", K.TEXT, "G/L account for freight lines", flag="--freight-gl-account", metavar="NO"
    )
    payment_terms: Mapping[int, str] | None = _field(
        "Payment Terms", K.MAPPING, "paymenttermscode -> Payment Terms Code", mapping_key="payment-terms",
        column="payment_terms_map",
    )  # fmt: skip
    shipping_agents: Mapping[int, str] | None = _field(
        "Shipping Agent", K.MAPPING, "shippingmethodcode -> Shipping Agent Code", mapping_key="shipping-agent",
        column="shipping_agent_map",
    )  # fmt: skip
    shipment_methods: Mapping[int, str] | None = _field(
        "Shipment Method", K.MAPPING, "freighttermscode -> Shipment Method Code", mapping_key="shipment-method",
        column="shipment_method_map",
    )  # fmt: skip
    reset_odata_url: bool = _action("Reset Web Client URL", "back to this gateway's V3 address", "--reset-odata-url")
    rotate_webhook_secret: bool = _action(
        "New Webhook Secret", "make a new webhook secret and print it", "--new-webhook-secret"
    )

    @classmethod
    def parse(cls, values: Mapping[str, object]) -> SetupChange:
        """A change from field names and JSON values (the admin API's body, the CLI's flags)."""
        unknown = sorted(set(values) - set(FIELD_BY_NAME))
        if unknown:
            raise SetupError(f"Unknown setup field(s): {', '.join(unknown)}.")
        parsed: dict[str, object] = {}
        # Switches first, then texts, then mappings: the order in which the errors are told.
        for kinds in ((K.BOOL,), (K.TEXT, K.URL, K.SECRET, K.CHOICE), (K.MAPPING,)):
            for definition in (d for d in ALL_FIELDS if d.kind in kinds and d.name in values):
                parsed[definition.name] = _parse_value(definition, values[definition.name])
        return cls(**parsed)  # type: ignore[arg-type]

    def given(self) -> dict[str, object]:
        """The fields this change sets, by name, in the order of :data:`FIELDS`."""
        return {d.name: getattr(self, d.name) for d in FIELDS if getattr(self, d.name) is not None}


def _parse_value(definition: SetupField, value: object) -> object:
    name = definition.name
    if definition.kind is K.BOOL:
        if not isinstance(value, bool):
            raise SetupError(f"{name} must be true or false.")
        return value
    if definition.kind is not K.MAPPING:
        if not isinstance(value, str):
            raise SetupError(f"{name} must be text.")
        return value
    if not isinstance(value, dict):
        raise SetupError(f"{name} must be an object of Sales option value -> BC code.")
    entries: dict[int, str] = {}
    for key, code in value.items():
        try:
            number = int(key)
        except (TypeError, ValueError):
            raise SetupError(f"{name}: '{key}' is not a Sales option value (a number).") from None
        if not isinstance(code, str):
            raise SetupError(option_code_error(name, number))
        entries[number] = code
    return entries


def option_code_error(name: str, number: int) -> str:
    return f"{name}: the BC code for {number} must be text of at most 10 characters."


ALL_FIELDS: tuple[SetupField, ...] = tuple(
    dataclasses.replace(f.metadata[_DEFINES], name=f.name) for f in dataclasses.fields(SetupChange)
)
FIELDS = tuple(d for d in ALL_FIELDS if not d.action)
ACTIONS = tuple(d for d in ALL_FIELDS if d.action)
FIELD_BY_NAME = {d.name: d for d in ALL_FIELDS}


@dataclass(frozen=True, slots=True)
class ConnectionSetup:
    """BC's "Dynamics 365 Connection Setup" and how Sales is reached: one record.

    The names are the columns of ``connection_setup``. The webhook secret is kept only as a salted
    hash; the client secrets and the access key must be sent on, so they are stored encrypted
    (schemas/secrets.py) and held here in clear, left out of ``repr``.
    """

    sales_url: str = ""
    item_availability_enabled: bool = False
    odata_url: str = ""
    odata_username: str = ""
    sales_order_integration_enabled: bool = False
    auto_create_sales_orders: bool = False
    auto_process_sales_quotes: bool = False
    sdk_version: str = ""
    webhook_auth_mode: str = "header"
    webhook_header_name: str = "x-bcgw-key"
    webhook_secret_hash: str | None = field(default=None, repr=False)
    webhook_secret_salt: str | None = field(default=None, repr=False)
    dataverse_url: str = ""
    dataverse_token_url: str = ""
    dataverse_client_id: str = ""
    dataverse_client_secret: str = field(default="", repr=False)
    bc_mode: str = "embedded"
    bc_api_url: str = ""
    bc_company: str = ""
    bc_auth: str = "oauth"
    bc_token_url: str = ""
    bc_client_id: str = ""
    bc_client_secret: str = field(default="", repr=False)
    bc_scope: str = ""
    bc_user: str = ""
    bc_access_key: str = field(default="", repr=False)
    bc_odata_url: str = ""
    bc_ledger_entries_service: str = ""
    bc_item_units_service: str = ""
    bc_resources_service: str = ""
    error_notes: bool = True

    @property
    def bc_api_mode(self) -> bool:
        """A real BC is the system of record (our BC tables are its mirror)."""
        return self.bc_mode == "api"

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | None) -> ConnectionSetup:
        """From the stored row; no row yet is the default setup."""
        if row is None:
            return cls()
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


CONNECTION_FIELDS = tuple(d for d in FIELDS if d.name in {f.name for f in dataclasses.fields(ConnectionSetup)})
SALES_FIELDS = tuple(d for d in FIELDS if d not in CONNECTION_FIELDS)


@dataclass(frozen=True, kw_only=True, slots=True)
class OptionMappings:
    """BC's "CRM Option Mapping" for the three option fields the conversion copies.

    Keys are the Sales option values; values are BC codes (at most 10 characters).
    """

    payment_terms: Mapping[int, str]  # salesorder.paymenttermscode -> Payment Terms Code
    shipping_agents: Mapping[int, str]  # salesorder.shippingmethodcode -> Shipping Agent Code
    shipment_methods: Mapping[int, str]  # salesorder.freighttermscode -> Shipment Method Code


# The option values Sales ships with (dataverse.md §2), each mapped to a BC code named after it.
DEFAULT_OPTION_MAPPINGS = OptionMappings(
    payment_terms=MappingProxyType({1: "NET 30", 2: "2%10NET30", 3: "NET 45", 4: "NET 60"}),
    shipping_agents=MappingProxyType(
        {1: "AIRBORNE", 2: "DHL", 3: "FEDEX", 4: "UPS", 5: "POSTAL", 6: "FULL LOAD", 7: "WILL CALL"}
    ),
    shipment_methods=MappingProxyType({1: "FOB", 2: "NO CHARGE"}),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class SalesSetup:
    """The parts of BC's "Sales & Receivables Setup" (and "General Ledger Setup") used here.

    ``write_in_product_type`` "" with a ``write_in_product_no`` counts as "Item", BC's default
    option. ``local_currency_code`` is G/L Setup's "LCY Code": a Sales document in that ISO currency
    gets a blank Currency Code. ``freight_gl_account`` is "Freight G/L Acc. No.". The mappings are
    the defaults with what was set over them.
    """

    write_in_product_type: WriteInProductType = "Item"
    write_in_product_no: str = ""
    local_currency_code: str = ""
    freight_gl_account: str = ""
    payment_terms: Mapping[int, str] = field(default_factory=lambda: DEFAULT_OPTION_MAPPINGS.payment_terms)
    shipping_agents: Mapping[int, str] = field(default_factory=lambda: DEFAULT_OPTION_MAPPINGS.shipping_agents)
    shipment_methods: Mapping[int, str] = field(default_factory=lambda: DEFAULT_OPTION_MAPPINGS.shipment_methods)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SalesSetup:
        """From the stored columns; a mapping column holds what is set over the defaults ("" unmaps)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            definition = FIELD_BY_NAME.get(f.name)
            if definition is not None and definition.kind is K.MAPPING:
                merged = dict(getattr(DEFAULT_OPTION_MAPPINGS, f.name))
                for key, code in row[definition.column].items():
                    if code:
                        merged[int(key)] = code
                    else:
                        merged.pop(int(key), None)
                values[f.name] = merged
            else:
                values[f.name] = row[f.name]
        return cls(**values)
