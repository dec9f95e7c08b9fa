"""Which collection requests take a prepared plan, and the plans kept per request shape.

A page of a set, or a page filtered by `Prop eq literal` (gateway/odata/hot_filter.py), in one
statement (no $count, no $skiptoken): the shape is the set, the company, the filtered property
and the kind of its literal, the order, the page size and $skip; the literal is the plan's one
slot. Everything else takes the general path in service.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache
from odata_query import ast
from sqlalchemy import bindparam, select

from gateway.odata import edm
from gateway.odata.answer_cache import Memo
from gateway.odata.filter import FilterCompiler
from gateway.odata.host import ODataHost
from gateway.odata.hot_filter import hot_comparison
from gateway.odata.paging import order_clauses
from gateway.odata.plans import SLOT, Plan, Processor, make_plan, run_plan
from gateway.odata.query import QueryOptions


@dataclass(frozen=True, slots=True)
class Literal:
    """The literal as the compiler binds it: its value and SQL type (not the BindParameter, ~1 KB
    each in the memo below)."""

    value: Any
    type: Any


# (the filter's tree or None, its literal)
Prepared = tuple[ast.Compare | None, Literal | None]
_MEMO_TEXT = 512  # longer filters are not remembered (a $filter may be 32 KiB; the hot shape is short)


class PreparedReads:
    def __init__(self, host: ODataHost, size: int = 4096) -> None:
        self.host = host
        # Shape -> plan: sets x companies x page sizes x orders, bounded.
        self._plans: LRUCache[tuple[Any, ...], Plan] = LRUCache(maxsize=size)
        # (set, $filter text) -> its literal as bound (a few hundred bytes each).
        self._literals: Memo[tuple[str, str], Literal] = Memo(maxsize=10_000)

    def preparable(self, entity_set: edm.EntitySet, options: QueryOptions, cols: dict[str, Any]) -> Prepared | None:
        """The request's tree and bound literal when it can take a plan; else None. The literal is
        checked and bound by the compiler itself (its errors are the general path's)."""
        if options.count or options.skiptoken or options.aliases:
            return None
        if options.filter is None:
            return None, None
        tree = hot_comparison(options.filter, entity_set)
        if tree is None:
            return None
        # The compiler's checks and the bound literal are the same for the same text every time
        # (a set's column types do not depend on the company), and cost more than the rest of a
        # cache miss's filter work; a filter refused raises and is not kept.
        key = (entity_set.name, options.filter)
        literal = self._literals.get(key)
        if literal is None:
            bound = FilterCompiler(entity_set, cols, options.filter).bound_value(tree)
            literal = Literal(bound.value, bound.type)
            if len(options.filter) <= _MEMO_TEXT:
                self._literals[key] = literal
        return tree, literal

    async def rows(
        self,
        prepared: Prepared,
        entity_set: edm.EntitySet,
        company: str,
        options: QueryOptions,
        limit: int,
        cols: dict[str, Any],
        names: list[str],
        order: list[tuple[Any, bool, bool]],
    ) -> tuple[list[Sequence[Any]], tuple[Processor, ...] | None]:
        """Up to limit + 1 rows (the one more says there is a next page), as run_plan gives them."""
        tree, bound = prepared
        engine = self.host.engine()
        reader = self.host.reader()
        column = None if tree is None else cols[tree.left.name]  # type: ignore[attr-defined]
        shape = None if tree is None else (tree.left.name, type(tree.right))  # type: ignore[attr-defined]
        key: tuple[Any, ...] = (engine.dialect.name, reader is not None, entity_set.name, company, shape)
        key += (options.orderby, limit, options.skip)
        plan = self._plans.get(key)
        if plan is None:
            stmt = select(*[cols[n] for n in names])
            if column is not None and bound is not None:
                # What the compiler makes of `Prop eq literal`: column == the literal, bound alike.
                stmt = stmt.where(column == bindparam(SLOT + "0", type_=bound.type))
            stmt = stmt.order_by(*order_clauses(order)).limit(limit + 1)
            if options.skip:
                stmt = stmt.offset(options.skip)
            plan = self._plans[key] = make_plan(stmt, engine.dialect, reader is not None)
        slots = {} if tree is None or bound is None else {SLOT + "0": bound.value}
        return await run_plan(plan, slots, engine, reader)
