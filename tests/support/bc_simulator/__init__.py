"""A faithful simulator of Business Central's REST API v2.0, for tests and demos on loopback.

See README.md in this directory. The public entry points are :class:`BcSimulator` and
:class:`SimConfig`; ``fixtures.py`` offers pytest fixtures.
"""

from .clock import SimClock
from .config import BC_SCOPE, Identity, NumberSeries, SimConfig
from .faults import Fault
from .simulator import BcSimulator

__all__ = ["BC_SCOPE", "BcSimulator", "Fault", "Identity", "NumberSeries", "SimClock", "SimConfig"]
