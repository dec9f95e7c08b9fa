"""The deployment files kept in step with the code: deploy/bc-gateway.env.example lists every
setting. (The shipped nginx configuration is checked by nginx itself: tests/e2e/test_nginx.py.)"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from gateway.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / "deploy" / "bc-gateway.env.example").read_text()
    listed = set(re.findall(r"^#?(BCGW_[A-Z_]+)=", text, re.MULTILINE))
    # BCGW_SECRET_KEY(_FILE) are read from the environment only (schemas/secrets.py), not Settings.
    environment_only = {"BCGW_CONFIG", "BCGW_SECRET_KEY", "BCGW_SECRET_KEY_FILE"}
    wanted = {"BCGW_" + f.name.upper() for f in dataclasses.fields(Settings)} | environment_only
    assert listed == wanted
