"""The OData entity sets this gateway publishes, as definitions over the BC tables.

Adding a set is a definition here (a select over schemas' tables plus its properties), not
protocol code: the generic OData layer (gateway/odata) serves whatever the registry holds.
"""

from gateway.entity_sets.availability import FOUNDATION_SETS
from gateway.entity_sets.common import AVAILABILITY
from gateway.entity_sets.documents import ORDER_SETS
from gateway.entity_sets.sync import SYNC_SETS

ALL_SETS = [*FOUNDATION_SETS, *ORDER_SETS, *SYNC_SETS]

__all__ = ["ALL_SETS", "AVAILABILITY", "FOUNDATION_SETS", "ORDER_SETS", "SYNC_SETS"]
