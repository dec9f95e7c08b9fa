"""BCGW_ALLOWED_HOSTS: which Host names the gateway answers (gateway/hosts.py), and the setting."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, Settings, load_settings
from gateway.hosts import allowed_hosts, host_allowed


@pytest.mark.parametrize(
    ("settings", "host", "ok"),
    [
        (Settings(), "127.0.0.1:8080", True),
        (Settings(), "localhost", True),
        (Settings(), "[::1]:8080", True),
        (Settings(), "evil.example", False),
        (Settings(), "evil.example:8080", False),
        (Settings(), "", False),
        (Settings(), None, False),
        (Settings(public_url="https://bc.example.com"), "bc.example.com", True),
        (Settings(public_url="https://bc.example.com"), "bc.example.com:443", True),
        (Settings(public_url="https://bc.example.com:8443"), "bc.example.com:8443", True),
        (Settings(public_url="https://bc.example.com:8443"), "bc.example.com", False),
        (Settings(public_url="https://bc.example.com"), "127.0.0.1:8080", True),
        (Settings(allowed_hosts=("bc.example.com",)), "BC.example.com:9443", True),
        (Settings(allowed_hosts=("bc.example.com",)), "127.0.0.1", False),
        (Settings(allowed_hosts=("*.example.com",)), "bc.example.com", True),
        (Settings(allowed_hosts=("*.example.com",)), "example.com.evil", False),
        (Settings(allowed_hosts=("bc.example.com:8443",)), "bc.example.com:8444", False),
    ],
)
def test_host_allowed(settings: Settings, host: str | None, ok: bool) -> None:
    assert host_allowed(host, allowed_hosts(settings)) is ok


def test_the_setting_is_a_list_of_host_names() -> None:
    got = load_settings({"BCGW_ALLOWED_HOSTS": "BC.example.com, bc.example.com:8443,,*.example.org"})
    assert got.allowed_hosts == ("bc.example.com", "bc.example.com:8443", "*.example.org")
    with pytest.raises(ConfigError, match="BCGW_ALLOWED_HOSTS: 'http://x' is not a host name"):
        load_settings({"BCGW_ALLOWED_HOSTS": "http://x"})
    with pytest.raises(ConfigError, match="BCGW_ALLOWED_HOSTS"):
        load_settings({"BCGW_ALLOWED_HOSTS": "bc.example.com:99999"})
