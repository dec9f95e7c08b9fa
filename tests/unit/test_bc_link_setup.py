"""The BC link's setup, pure: its fields' rules in api mode (BC's messages), the connection the setup
makes, the shared client holder, and the encryption of secrets at rest."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from orders.bc_link import BasicAccessKey, BcConnection, OAuthClientCredentials
from orders.bc_link.config import BC_SCOPE
from orders.bc_link.from_setup import BcLink, BcNotConfigured, PublishedPages, bc_connection, published_pages
from orders.connection_tests import bc_pages_to_check
from orders.setup import DEFAULT_BC_SCOPE, FIELD_BY_NAME, ConnectionSetup, SalesSetup, SetupChange, SetupError
from orders.setup_rules import SetupFacts, apply_change, history_entries, setup_view
from schemas.secrets import PREFIX, SecretBox, SecretKeyError, default_key_file

API = "https://api.businesscentral.dynamics.com/v2.0/7a1c4b2e-0d3f-4c5a-9e8b-1f2a3b4c5d6e/production/api/v2.0"
TOKEN = "https://login.microsoftonline.com/7a1c4b2e-0d3f-4c5a-9e8b-1f2a3b4c5d6e/oauth2/v2.0/token"
ONPREM = "https://bc.contoso.local:7048/BC/api/v2.0"
OAUTH: dict[str, Any] = {
    "bc_mode": "api",
    "bc_api_url": API,
    "bc_company": "CRONUS USA, Inc.",
    "bc_token_url": TOKEN,
    "bc_client_id": "3e7b1f0a-5c2d-4e8f-9a6b-0c1d2e3f4a5b",
    "bc_client_secret": "s3cret-value",
}
BASIC: dict[str, Any] = {
    "bc_mode": "api",
    "bc_api_url": ONPREM,
    "bc_company": "CRONUS",
    "bc_auth": "basic",
    "bc_user": "SALESINT",
    "bc_access_key": "ZGVtby13ZWItc2VydmljZS1hY2Nlc3Mta2V5LTAwMDE=",
}


def apply(old: ConnectionSetup = ConnectionSetup(), **values: Any) -> ConnectionSetup:
    return apply_change(old, SetupChange.parse(values), SetupFacts()).connection


def refused(old: ConnectionSetup = ConnectionSetup(), **values: Any) -> str:
    with pytest.raises(SetupError) as exc:
        apply(old, **values)
    return str(exc.value)


# --- the rules ----------------------------------------------------------------------------------


def test_embedded_is_the_default_and_needs_nothing() -> None:
    setup = ConnectionSetup()
    assert setup.bc_mode == "embedded" and not setup.bc_api_mode and bc_connection(setup) is None
    assert apply(bc_mode="embedded").bc_mode == "embedded"


def test_api_mode_with_oauth_gives_the_connection() -> None:
    setup = apply(**OAUTH, bc_ledger_entries_service="ItemLedgerEntries")
    assert setup.bc_api_mode
    assert bc_connection(setup) == BcConnection(
        API, "CRONUS USA, Inc.", OAuthClientCredentials(TOKEN, OAUTH["bc_client_id"], "s3cret-value", BC_SCOPE)
    )
    assert DEFAULT_BC_SCOPE == BC_SCOPE
    assert published_pages(setup) == PublishedPages(ledger_entries="ItemLedgerEntries")
    assert bc_pages_to_check(setup) == {"ItemLedgerEntries": 38}


def test_api_mode_with_basic_on_premises_and_a_scope_and_odata_url() -> None:
    setup = apply(**BASIC, bc_odata_url="https://bc.contoso.local:7048/BC/ODataV4/", bc_item_units_service="IUoM")
    connection = bc_connection(setup)
    assert connection is not None and connection.auth == BasicAccessKey("SALESINT", BASIC["bc_access_key"])
    assert connection.odata_root == "https://bc.contoso.local:7048/BC/ODataV4"
    scoped = apply(**OAUTH, bc_scope="api://custom/.default")
    conn2 = bc_connection(scoped)
    assert conn2 is not None and isinstance(conn2.auth, OAuthClientCredentials)
    assert conn2.auth.scope == "api://custom/.default"


@pytest.mark.parametrize(
    ("drop", "caption"),
    [
        ("bc_api_url", "Business Central API URL"),
        ("bc_company", "Business Central Company"),
        ("bc_token_url", "Business Central OAuth Token URL"),
        ("bc_client_id", "Business Central Client ID"),
        ("bc_client_secret", "Business Central Client Secret"),
    ],
)
def test_api_mode_needs_url_company_and_complete_oauth_credentials(drop: str, caption: str) -> None:
    values = {k: v for k, v in OAUTH.items() if k != drop}
    assert refused(**values) == (
        f"{caption} must have a value in Dynamics 365 Connection Setup: Primary Key=. It cannot be zero or empty."
    )


@pytest.mark.parametrize(("drop", "caption"), [("bc_user", "User Name"), ("bc_access_key", "Web Service Access Key")])
def test_basic_needs_user_and_key(drop: str, caption: str) -> None:
    values = {k: v for k, v in BASIC.items() if k != drop}
    assert refused(**values).startswith(f"Business Central {caption} must have a value")


def test_rules_hold_for_later_changes_too() -> None:
    setup = apply(**OAUTH)
    assert refused(setup, bc_client_secret="").startswith("Business Central Client Secret must have a value")
    assert refused(setup, bc_auth="basic").startswith("Business Central User Name must have a value")
    # Leaving api mode needs nothing more.
    assert apply(setup, bc_mode="embedded", bc_client_secret="").bc_mode == "embedded"


def test_bad_values_are_refused_in_words() -> None:
    assert refused(**{**OAUTH, "bc_api_url": "https://bc.example.com/BC/ODataV4"}).startswith(
        "Business Central API URL 'https://bc.example.com/BC/ODataV4' is not an API root"
    )
    assert refused(**{**BASIC, "bc_api_url": API}).startswith(
        "Business Central online no longer accepts web service access keys"
    )
    assert refused(**{**OAUTH, "bc_mode": "cloud"}) == "bc_mode must be one of embedded, api."
    assert refused(**{**OAUTH, "bc_auth": "kerberos"}) == "bc_auth must be one of oauth, basic."
    assert refused(**OAUTH, bc_ledger_entries_service="Item Ledger").startswith(
        "Item Ledger Entries Web Service: 'Item Ledger' is not a web service name"
    )
    assert refused(**{**OAUTH, "bc_api_url": "ftp://x/api/v2.0"}).endswith(
        "is not an absolute http:// or https:// address."
    )
    assert refused(**{**BASIC, "bc_user": "A:B"}) == "Business Central User Name cannot contain ':'."


def test_choices_and_names_are_normalised() -> None:
    setup = apply(**{**OAUTH, "bc_mode": " API ", "bc_auth": "OAuth", "bc_api_url": API + "/"})
    assert (setup.bc_mode, setup.bc_auth, setup.bc_api_url) == ("api", "oauth", API)
    assert apply(**OAUTH, bc_resources_service=" Resources ").bc_resources_service == "Resources"


def test_secrets_are_masked_in_views_and_history_and_repr() -> None:
    setup = apply(**OAUTH)
    view = setup_view(setup, SalesSetup(), "http://x/webhooks/dataverse")
    assert view["bc_client_secret"] == "********" and view["bc_mode"] == "api"
    entries = history_entries({"bc_access_key": ("", "a-much-longer-access-key-9999")}, {})
    assert entries == [("bc_access_key", "", "********9999")]
    assert "s3cret-value" not in repr(setup) and "s3cret-value" not in repr(bc_connection(setup))
    assert FIELD_BY_NAME["bc_client_secret"].secret and FIELD_BY_NAME["bc_access_key"].secret


# --- the shared client --------------------------------------------------------------------------


async def test_bclink_shares_one_client_until_the_connection_changes() -> None:
    link = BcLink(ConnectionSetup())
    assert not link.configured
    with pytest.raises(BcNotConfigured, match="embedded mode"):
        await link.client()
    setup = apply(**OAUTH)
    assert link.update(setup) is True
    first = await link.client()
    assert await link.client() is first
    assert link.update(dataclasses.replace(setup, bc_ledger_entries_service="ILE")) is False
    assert link.pages.ledger_entries == "ILE" and await link.client() is first
    assert link.update(dataclasses.replace(setup, bc_client_secret="rotated")) is True
    second = await link.client()
    assert second is not first and second.connection.company == "CRONUS USA, Inc."
    await link.aclose()


# --- secrets at rest ----------------------------------------------------------------------------


def test_secret_box_encrypts_with_the_environment_key_and_several_keys_open() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = SecretBox("sqlite+aiosqlite:///x.db", {"BCGW_SECRET_KEY": old}).encrypt("s3cret")
    assert stored.startswith(PREFIX) and "s3cret" not in stored
    rotated = SecretBox("sqlite+aiosqlite:///x.db", {"BCGW_SECRET_KEY": f"{new},{old}"})
    assert rotated.decrypt(stored) == "s3cret"
    assert rotated.encrypt("") == "" and rotated.decrypt("") == ""
    assert rotated.decrypt("legacy clear text") == "legacy clear text"
    with pytest.raises(SecretKeyError, match="BCGW_SECRET_KEY"):
        SecretBox("sqlite+aiosqlite:///x.db", {"BCGW_SECRET_KEY": new}).decrypt(stored)
    with pytest.raises(SecretKeyError, match="is not a Fernet key"):
        SecretBox("sqlite+aiosqlite:///x.db", {"BCGW_SECRET_KEY": "short"}).encrypt("x")


def test_a_key_file_is_made_on_first_use_next_to_the_database_with_mode_0600(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bcgw.db'}"
    box = SecretBox(url, {})
    assert not (tmp_path / "bcgw.db.key").exists()
    assert box.encrypt("") == ""  # no secret, no key file
    assert not (tmp_path / "bcgw.db.key").exists()
    stored = box.encrypt("value")
    key_file = tmp_path / "bcgw.db.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert SecretBox(url, {}).decrypt(stored) == "value"  # another process finds the same key
    assert box.where() == str(key_file)
    given = tmp_path / "keys" / "gateway.key"
    other = SecretBox(url, {"BCGW_SECRET_KEY_FILE": str(given)})
    assert other.decrypt(other.encrypt("v")) == "v" and given.exists()
    assert default_key_file("postgresql+asyncpg://u@h/db", {"XDG_CONFIG_HOME": str(tmp_path)}) == (
        tmp_path / "bc-gateway" / "secret.key"
    )
