"""What a filtered answer depends on, for the answer cache: the identities its $filter names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from odata_query import ast

from gateway.odata import edm
from gateway.odata.filter_types import chain_terms

Tags = frozenset[tuple[str, str]]


def identity_tags(
    tree: ast._Node | None, entity_set: edm.EntitySet, tag_of: Callable[[Any, edm.Property], str]
) -> Tags | None:
    """The identities a filtered answer depends on, or None when it may depend on any row.

    `A and B` depends only on the rows A admits, so one narrowing side suffices; `A or B`
    needs both sides narrowed; `not`, comparisons other than eq/in, and no filter are broad.
    """
    ident = entity_set.cache_identity or {}
    if tree is None:
        return None

    def walk(node: ast._Node) -> Tags | None:
        if isinstance(node, ast.BoolOp):
            # A chain (`a or b or c ...`) at once, not recursively: it may be hundreds long.
            parts = [walk(term) for term in chain_terms(node)]
            if isinstance(node.op, ast.And):
                narrowing = [p for p in parts if p is not None]
                return min(narrowing, key=len) if narrowing else None
            if any(p is None for p in parts):
                return None
            return frozenset().union(*[p for p in parts if p is not None])
        if isinstance(node, ast.Compare) and isinstance(node.comparator, ast.Eq | ast.In):
            ident_side, value_side = node.left, node.right
            if not isinstance(ident_side, ast.Identifier):
                ident_side, value_side = node.right, node.left
            if not isinstance(ident_side, ast.Identifier) or ident_side.name not in ident:
                return None
            values = value_side.val if isinstance(value_side, ast.List) else [value_side]
            prop = entity_set.by_name[ident_side.name]
            tags = set()
            for v in values:
                if not isinstance(v, ast.String | ast.GUID | ast.Integer):
                    return None
                tags.add(
                    (
                        ident[ident_side.name],
                        tag_of(v.py_val if not isinstance(v, ast.GUID) else v.val, prop),
                    )
                )
            return frozenset(tags)
        return None

    return walk(tree)
