"""The settings object: defaults, TOML, environment, and bad values naming their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, Settings, load_settings


def test_defaults() -> None:
    s = load_settings({})
    assert s == Settings()
    assert s.database_url == "sqlite+aiosqlite:///./bcgw.db"
    assert (s.company, s.host, s.port, s.max_page_size, s.cache_ttl) == ("CRONUS", "127.0.0.1", 8080, 20000, 30.0)
    assert s.public_base() is None


def test_environment_overrides_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "bcgw.toml"
    cfg.write_text(
        'company = "FROM_TOML"\nport = 9000\npublic_url = "https://bc.example.com/"\ntrusted_proxies = ["10.0.0.0/8"]\n'
    )
    s = load_settings({"BCGW_PORT": "9100"}, config_file=cfg)
    assert s.company == "FROM_TOML" and s.port == 9100
    assert s.public_base() == "https://bc.example.com"
    assert s.trusted_proxies == ("10.0.0.0/8",)
    s = load_settings({"BCGW_CONFIG": str(cfg)})
    assert s.company == "FROM_TOML"


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BCGW_PORT": "eighty"}, "BCGW_PORT: not a number"),
        ({"BCGW_PORT": "70000"}, "BCGW_PORT: must be between 1 and 65535"),
        ({"BCGW_MAX_PAGE_SIZE": "0"}, "BCGW_MAX_PAGE_SIZE: must be at least 1"),
        ({"BCGW_CACHE_TTL": "-1"}, "BCGW_CACHE_TTL: must be a number of seconds"),
        ({"BCGW_CACHE_TTL": "nan"}, "BCGW_CACHE_TTL"),
        ({"BCGW_DATABASE_URL": "mysql://x"}, "BCGW_DATABASE_URL: must start with"),
        ({"BCGW_COMPANY": ""}, "BCGW_COMPANY: must not be empty"),
        ({"BCGW_COMPANY": "C" * 31}, "BCGW_COMPANY: a company name has at most 30"),
        ({"BCGW_PUBLIC_URL": "bc.example.com"}, "BCGW_PUBLIC_URL: must be an absolute"),
        ({"BCGW_PUBLIC_URL": "https://bc.example.com/?x=1"}, "BCGW_PUBLIC_URL: must not have a query"),
        ({"BCGW_LOG_LEVEL": "LOUD"}, "BCGW_LOG_LEVEL"),
        ({"BCGW_TRUSTED_PROXIES": "10.0.0.0/8,not-an-address"}, "BCGW_TRUSTED_PROXIES"),
        ({"BCGW_RECONCILE_INTERVAL": "-5"}, "BCGW_RECONCILE_INTERVAL: must be 0 or more"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    assert str(exc.value).startswith(message.split(":")[0])
    assert message in str(exc.value)


def test_bad_toml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("port = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({}, config_file=bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings({}, config_file=unknown)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, config_file=tmp_path / "missing.toml")


def test_cli_stops_with_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["db", "current"], environ={"BCGW_PORT": "x"})
    assert exc.value.code == 2
    assert "BCGW_PORT: not a number" in capsys.readouterr().err
