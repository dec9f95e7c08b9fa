"""BcApiClient's credentials against the BC simulator over loopback HTTP: the OAuth token (cached,
renewed before expiry, fetched once for concurrent callers, renewed once on a 401), Basic with a web
service access key, and secrets kept out of reprs, errors and logs."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from orders.bc_link import BcApiClient, BcAuthenticationError, BcFailure
from tests.support.bc_link import FakeTime, api_requests, client_for, connection_for, token_requests
from tests.support.bc_simulator import BcSimulator
from tests.support.bc_simulator.client import Factory

pytest_plugins = ["tests.support.bc_simulator.fixtures"]


async def test_token_is_cached_and_renewed_before_it_expires(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time, token_refresh_margin=300)
    await bc.get("items")
    await bc.get("customers")
    assert token_requests(bc_simulator) == 1
    # The simulator's tokens live 3599 s; ours is renewed 300 s before that, never in flight.
    time.advance(3200)
    await bc.get("items")
    assert token_requests(bc_simulator) == 1
    time.advance(150)  # 3350 s: inside the margin
    await bc.get("items")
    assert token_requests(bc_simulator) == 2
    assert bc.metrics().token_requests == 2
    assert not any(entry.status == 401 for entry in bc_simulator.request_log)


async def test_concurrent_callers_share_one_token_request(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    pages = await asyncio.gather(*(bc.get("items") for _ in range(20)))
    assert len(pages) == 20
    assert token_requests(bc_simulator) == 1


async def test_a_401_renews_the_token_once_and_retries(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = client_for(bc_simulator, bc_session)
    await bc.get("items")
    bc_simulator.auth.tokens.clear()  # BC no longer knows the token (revoked, restarted)
    page = await bc.get("items")
    assert page["value"]
    assert token_requests(bc_simulator) == 2
    assert [e.status for e in bc_simulator.request_log if "/items" in e.path] == [200, 401, 200]


async def test_a_second_401_is_an_authentication_error(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    # Entra grants the app a token, but the app is not enabled on BC's Entra Applications page.
    bc_simulator.identity().enabled = False
    bc = client_for(bc_simulator, bc_session)
    with pytest.raises(BcAuthenticationError) as caught:
        await bc.get("items")
    error = caught.value
    assert error.status == 401 and error.code == "Authentication_InvalidCredentials"
    assert error.message == "The server has rejected the client credentials."
    assert error.kind is BcFailure.AUTHENTICATION and not error.transient
    assert token_requests(bc_simulator) == 2  # refreshed once, then BC's answer stands
    # The first call resolves the company: GET companies, 401, new token, 401.
    assert [e.status for e in bc_simulator.request_log if not e.path.endswith("/token")] == [401, 401]


async def test_a_refused_client_secret_gives_entra_s_reason(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = BcApiClient(connection_for(bc_simulator, secret="wrong-secret"), bc_session)
    with pytest.raises(BcAuthenticationError) as caught:
        await bc.get("items")
    assert caught.value.code == "invalid_client"
    assert "AADSTS7000215: Invalid client secret provided." in caught.value.message
    assert "wrong-secret" not in str(caught.value)
    assert api_requests(bc_simulator) == []  # BC itself was never asked


async def test_basic_auth_with_a_web_service_access_key(
    bc_simulator_factory: Factory, bc_session: aiohttp.ClientSession
) -> None:
    sim = await bc_simulator_factory(deployment="onprem")
    bc = client_for(sim, bc_session)
    assert bc.connection.api_url.endswith("/BC/api/v2.0")
    company = await bc.company()
    assert company.name == "CRONUS"
    items = await bc.list_collection("items")
    assert len(items) == 17
    assert token_requests(sim) == 0

    wrong = BcApiClient(connection_for(sim, secret="not-the-key"), bc_session)
    with pytest.raises(BcAuthenticationError) as caught:
        await wrong.get("items")
    assert caught.value.status == 401
    # Nothing to refresh with Basic: one request, no retry.
    assert [e.status for e in sim.request_log][-1:] == [401]
    assert len([e for e in sim.request_log if e.status == 401]) == 1


async def test_secrets_stay_out_of_reprs_errors_and_logs(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = bc_simulator.identity().client_secret
    assert secret
    bc = client_for(bc_simulator, bc_session, max_attempts=2)
    await bc.get("items")
    bc_simulator.add_fault("status", path="*/customers", status=503, times=None)
    with pytest.raises(Exception) as caught:
        await bc.get("customers")
    tokens = list(bc_simulator.auth.tokens)
    texts = [repr(bc), repr(bc.connection), repr(bc.authorizer), str(caught.value), caplog.text]
    for text in texts:
        assert secret not in text
        assert not any(token in text for token in tokens)
    assert "client_secret" not in repr(bc.connection)

    sim_basic = BcSimulator(deployment="onprem", seed_demo=True)
    basic = connection_for(sim_basic)
    assert sim_basic.identity().access_key not in repr(basic)


async def test_concurrent_callers_share_one_refusal_too(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    bc = BcApiClient(connection_for(bc_simulator, secret="wrong-secret"), bc_session)
    outcomes = await asyncio.gather(*(bc.get("items") for _ in range(10)), return_exceptions=True)
    assert all(isinstance(o, BcAuthenticationError) for o in outcomes)
    assert token_requests(bc_simulator) == 1


async def test_the_token_endpoint_is_retried_when_it_is_away(
    bc_simulator: BcSimulator, bc_session: aiohttp.ClientSession
) -> None:
    time = FakeTime(bc_simulator)
    bc = client_for(bc_simulator, bc_session, time)
    bc_simulator.add_fault("status", path="*/oauth2/v2.0/token", status=503, retry_after=3, times=1)
    assert (await bc.get("items"))["value"]
    assert time.sleeps == [3.0] and token_requests(bc_simulator) == 2
