"""The one $filter shape nearly every request has, read without the parser.

Sales asks `ProductItemAvailability?$filter=CRM_ID eq <guid>` for every product form it opens;
odata-query's parser (sly) costs more than the rest of such an answer. `Property eq literal`,
written exactly so (one space either side of `eq`; a GUID, `guid'...'` or a string in quotes),
is read here into the very tree the parser makes (tests/unit/test_hot_filter.py compares them on
generated input); anything else, or anything odd (NUL, an over-long text), goes to the parser,
which also gives every error message. The tree then takes the usual way through the compiler.

A property name is taken only once the parser itself has read `Name eq 'x'` as that property:
a name such as `null` or `not` would be read as something else.
"""

from __future__ import annotations

import re

from odata_query import ast

from gateway.odata import edm
from gateway.odata.filter_text import MAX_FILTER_LENGTH, parse

_HOT = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]{0,127}) eq "
    r"(?:(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|guid'(?P<v3guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})'"
    r"|'(?P<str>(?:[^']|'')*)')"
)
_EQ = ast.Eq()
# Property names the parser reads as identifiers before ` eq ` (checked once per name).
_IDENTIFIERS: dict[str, bool] = {}


def _is_identifier(name: str) -> bool:
    known = _IDENTIFIERS.get(name)
    if known is None:
        try:
            tree = parse(f"{name} eq 'x'")
        except Exception:  # an ODataError: not a plain identifier here
            tree = None
        known = tree == ast.Compare(_EQ, ast.Identifier(name), ast.String("x"))
        if len(_IDENTIFIERS) < 10_000:  # the names of published properties: few
            _IDENTIFIERS[name] = known
    return known


def hot_comparison(text: str, entity_set: edm.EntitySet) -> ast.Compare | None:
    """The parser's tree of `Prop eq literal` for a property of the set, or None (use the parser)."""
    if len(text) > MAX_FILTER_LENGTH or "\x00" in text:
        return None
    m = _HOT.fullmatch(text)
    if m is None or m.group(1) not in entity_set.by_name or not _is_identifier(m.group(1)):
        return None
    value: ast._Literal
    if m.group("guid") is not None:
        value = ast.GUID(m.group("guid"))
    elif m.group("v3guid") is not None:
        value = ast.GUID(m.group("v3guid"))
    else:
        value = ast.String(m.group("str").replace("''", "'"))
    return ast.Compare(_EQ, ast.Identifier(m.group(1)), value)
