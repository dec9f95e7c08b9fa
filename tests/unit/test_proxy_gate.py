"""The gate of gateway/proxy.py on its own: which forwarded client, scheme and host it believes,
from which peers, and how long a chain it reads. Through a real nginx: tests/e2e/test_nginx.py."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from gateway.proxy import MAX_HOPS, Forwarding


def _request(peer: Any, headers: dict[str, str]) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.return_value = peer
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


V4_PROXY = ("127.0.0.1", 1)


@pytest.mark.parametrize(
    ("peer", "headers", "client", "proto", "host"),
    [
        (V4_PROXY, {"X-Forwarded-For": "203.0.113.1"}, "203.0.113.1", None, None),
        # A dual-stack listener sees the IPv4 proxy as ::ffff:127.0.0.1.
        (("::ffff:127.0.0.1", 1, 0, 0), {"X-Forwarded-For": "203.0.113.1"}, "203.0.113.1", None, None),
        (V4_PROXY, {"X-Forwarded-For": "[2001:db8::1]:443"}, "2001:db8::1", None, None),
        # Entries left of the first untrusted one were written by the client.
        (V4_PROXY, {"X-Forwarded-For": "10.0.0.9, 198.51.100.2, 203.0.113.1"}, "203.0.113.1", None, None),
        # All trusted: the leftmost.
        (V4_PROXY, {"X-Forwarded-For": "10.0.0.8, 10.0.0.9"}, "10.0.0.8", None, None),
        # Scheme and host come from the outermost trusted hop; what the client put left is dropped.
        (
            V4_PROXY,
            {
                "X-Forwarded-For": "203.0.113.1, 10.0.0.9",
                "X-Forwarded-Proto": "http, HTTPS, http",
                "X-Forwarded-Host": "evil.example, bc.example.com:8443, inner",
            },
            "203.0.113.1",
            "https",
            "bc.example.com:8443",
        ),
        (
            V4_PROXY,
            {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Host": "[2001:db8::1]"},
            "203.0.113.1",
            None,
            "[2001:db8::1]",
        ),
        (V4_PROXY, {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "gopher"}, "203.0.113.1", None, None),
        (V4_PROXY, {"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Host": "a/b"}, "203.0.113.1", None, None),
    ],
)
def test_gate_decisions(peer: Any, headers: dict[str, str], client: str, proto: str | None, host: str | None) -> None:
    believed = Forwarding(("127.0.0.1", "10.0.0.0/8")).believe(_request(peer, headers))
    assert believed is not None
    assert (str(believed.client), believed.proto, believed.host) == (client, proto, host)


@pytest.mark.parametrize(
    ("peer", "headers"),
    [
        (("192.0.2.1", 1), {"X-Forwarded-For": "203.0.113.1"}),  # not a trusted proxy
        ("", {"X-Forwarded-For": "203.0.113.1"}),  # a Unix socket
        (None, {"X-Forwarded-For": "203.0.113.1"}),  # the connection is gone
        (V4_PROXY, {"X-Forwarded-Proto": "https"}),  # nothing without X-Forwarded-For
        (V4_PROXY, {"X-Forwarded-For": "unknown"}),
    ],
)
def test_gate_believes_nothing(peer: Any, headers: dict[str, str]) -> None:
    assert Forwarding(("127.0.0.1",)).believe(_request(peer, headers)) is None
    assert Forwarding(()).believe(_request(V4_PROXY, {"X-Forwarded-For": "203.0.113.1"})) is None


def test_gate_bounds_the_chain() -> None:
    chain = ", ".join(f"10.0.0.{i}" for i in range(1, 3 * MAX_HOPS))
    believed = Forwarding(("127.0.0.1", "10.0.0.0/8")).believe(_request(V4_PROXY, {"X-Forwarded-For": chain}))
    assert believed is not None and len(believed.forwarded_for) == MAX_HOPS
