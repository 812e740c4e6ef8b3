"""Reading Outreach resources: one generic engine for every list and fetch-by-id endpoint.

Storage: each resource is a document ``{"id", "createdAt", "updatedAt", "attributes", "rels",
...index fields}`` in a ``Collection`` whose indexed keys are the sortable timestamps (plus one
lookup key). Ids are handed out in insertion order, so storage order (``seq``) is id order and
the keyset ``(sort value, seq)`` is the vendor's ``(sort value, id)`` (doc §2.3).

Two ways to find a page, both costing work in proportion to the page, not to the history:
- an index scan ordered by the sort key, resumed from the cursor, with a range filter on the
  sort key pushed into SQL (the incremental path callsync uses: ``updatedAt`` range and
  ``sort=updatedAt``);
- for a selective filter (``filter[id]``, ``filter[emails]``, ``filter[email]``,
  ``filter[number]``, or the relationship kept in the ``owner`` column, e.g. a call's
  prospect), the candidates found through an index, sorted and resumed in memory.
Other filters (a range on another attribute, ``filter[user][id]``) are checked on each scanned
row: cheap when they match often (a rep's calls), slower when they match rarely.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from connectors.emulation.base import ApiError
from connectors.emulation.http import EmuRequest
from connectors.emulation.state import Collection
from connectors.outreach.emulator.jsonapi import Cursor
from connectors.outreach.emulator.query import ListQuery, QueryRules, Range, invalid_parameter

Doc = dict[str, Any]
Row = tuple[Doc, int | None]  # a document and its storage position (None when looked up)
ValueLookup = Callable[[str, tuple[str, ...]], list[Doc]]
T = TypeVar("T")


@dataclass(frozen=True)
class ResourceSpec:
    """One Outreach resource type as the read endpoints serve it."""

    type: str  # JSON:API type, e.g. "call"
    path: str  # path segment under /api/v2, e.g. "calls"
    collection: Collection
    rules: QueryRules
    relationships: Mapping[str, str]  # to-one relationship name -> resource type
    # to-many relationship name -> (path of the related list, relationship it filters on)
    to_many: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    owner_relationship: str | None = None  # the relationship stored in the owner column
    lookup: ValueLookup | None = None  # resolves rules.value_filters through an index
    # Sort keys that may be NULL. A SQL keyset cannot step into or through a run of NULLs
    # (NULL compares to nothing), so these sorts run in memory: only tiny collections have one.
    nullable_sorts: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    more: bool

    def cursor(self, spec: ResourceSpec, query: ListQuery) -> Cursor | None:
        """Where the next page starts: the last record in true sort order."""
        if not self.rows or not self.more:
            return None
        doc, seq = self.rows[-1]
        return Cursor(
            spec.rules.controller, query.sort_param, _sort_value(doc, query), doc["id"], seq
        )


def not_found(kind: str, ident: str) -> ApiError:
    detail = f"Could not find '{kind}' with ID '{ident}'."
    return ApiError(404, "resourceNotFound", detail)


def get_doc(spec: ResourceSpec, ident: str) -> Doc:
    """The stored document for ``/<path>/{id}``; 404 ``resourceNotFound`` otherwise."""
    doc = spec.collection.get(int(ident)) if ident.isdigit() else None
    if doc is None:
        raise not_found(spec.type, ident)
    return doc


def render(
    spec: ResourceSpec, doc: Doc, base_url: str, fields: Mapping[str, frozenset[str]] | None = None
) -> Doc:
    """A JSON:API resource object; ``fields[<type>]`` limits attributes and relationships."""
    wanted = fields.get(spec.type) if fields else None
    attributes = doc["attributes"]
    if wanted is not None:
        attributes = {k: v for k, v in attributes.items() if k in wanted}
    relationships: Doc = {}
    for name, kind in spec.relationships.items():
        if wanted is None or name in wanted:
            related = doc["rels"].get(name)
            relationships[name] = {
                "data": None if related is None else {"type": kind, "id": related}
            }
    for name, (path, via) in spec.to_many.items():
        if wanted is None or name in wanted:
            link = f"{base_url}/api/v2/{path}?filter%5B{via}%5D%5Bid%5D={doc['id']}"
            relationships[name] = {"links": {"related": link}}
    return {
        "type": spec.type,
        "id": doc["id"],
        "attributes": attributes,
        "relationships": relationships,
        "links": {"self": f"{base_url}/api/v2/{spec.path}/{doc['id']}"},
    }


def fetch_page(spec: ResourceSpec, query: ListQuery) -> Page:
    rows = list(islice(_matching(spec, query, resume=True), query.size + 1))
    return Page(rows[: query.size], len(rows) > query.size)


def count_matches(spec: ResourceSpec, query: ListQuery, cap: int) -> tuple[int, bool]:
    """``meta.count`` and whether it was truncated (doc §2.3: counts can be truncated)."""
    if not query.filtered:
        return spec.collection.count(), False
    found = sum(1 for _ in islice(_matching(spec, query, resume=False), cap + 1))
    return min(found, cap), found > cap


def disorder(items: Sequence[T], every: int, seed: int) -> list[T]:
    """Outreach pages come slightly out of sort order: on one page in ``every`` (chosen by
    ``seed``, deterministically) swap adjacent records, starting with the last pair. The cursor
    is computed before this, from the true order, so a walk still skips nothing."""
    shuffled = list(items)
    if every <= 0 or len(shuffled) < 2 or zlib.crc32(str(seed).encode()) % every:
        return shuffled
    for i in range(len(shuffled) - 2, -1, -5):
        shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    return shuffled


def list_body(
    spec: ResourceSpec,
    query: ListQuery,
    request: EmuRequest,
    registry: Mapping[str, ResourceSpec],
    *,
    disorder_every: int,
    count_cap: int,
) -> Doc:
    """The whole JSON:API list response: data, included, links and (on request) meta."""
    page = fetch_page(spec, query)
    docs = [doc for doc, _ in page.rows]
    if docs:
        docs = disorder(docs, disorder_every, docs[0]["id"])
    body: Doc = {"data": [render(spec, doc, request.base_url, query.fields) for doc in docs]}
    if query.includes:
        body["included"] = _included(spec, docs, query, request.base_url, registry)
    links = {"first": request.url_with(request.path, query.link_params)}
    cursor = page.cursor(spec, query)
    if cursor is not None:
        params = sorted((*query.link_params, ("page[after]", cursor.encode())), key=lambda p: p[0])
        links["next"] = request.url_with(request.path, params)
    body["links"] = links
    if query.count:
        count, truncated = count_matches(spec, query, count_cap)
        body["meta"] = {"count": count, "count_truncated": truncated}
    return body


# --- finding the matching rows, in sort order ---------------------------------------------


def _sort_value(doc: Doc, query: ListQuery) -> Any:
    return doc["id"] if query.sort_field == "id" else doc.get(query.sort_field)


def _matching(spec: ResourceSpec, query: ListQuery, *, resume: bool) -> Iterator[Row]:
    pools = _candidate_pools(spec, query)
    if pools is not None:
        return _from_candidates(query, pools, resume)
    if query.sort_field in spec.nullable_sorts:
        everything: dict[int, Row] = {s.doc["id"]: (s.doc, s.seq) for s in spec.collection.scan()}
        return _from_candidates(query, [everything], resume)
    return _from_scan(spec, query, resume)


def _candidate_pools(spec: ResourceSpec, query: ListQuery) -> list[dict[int, Row]] | None:
    """The records each selective filter allows (by index), or None when no filter is."""
    pools: list[dict[int, Row]] = []
    for name, values in query.values.items():
        assert spec.lookup is not None, f"{spec.type} declares value filters without a lookup"
        pools.append({doc["id"]: (doc, None) for doc in spec.lookup(name, values)})
    if "id" in query.ids:
        found = (spec.collection.get(ident) for ident in query.ids["id"])
        pools.append({doc["id"]: (doc, None) for doc in found if doc is not None})
    owner = spec.owner_relationship
    if owner is not None and owner in query.ids:
        pools.append({
            stored.doc["id"]: (stored.doc, stored.seq)
            for ident in query.ids[owner]
            for stored in spec.collection.scan(owner=ident)
        })  # fmt: skip
    return pools or None


def _from_scan(spec: ResourceSpec, query: ListQuery, resume: bool) -> Iterator[Row]:
    order_by = None if query.sort_field == "id" else query.sort_field
    indexed = query.ranges.get(query.sort_field) if order_by else None
    after = None
    if resume and query.after is not None:
        if query.after.seq is None:
            raise invalid_parameter("page[after]", "The page cursor belongs to another query.")
        after = (query.after.value, query.after.seq)
    for stored in spec.collection.scan(
        order_by=order_by,
        descending=query.descending,
        gte=indexed.low if indexed else None,
        lte=indexed.high if indexed else None,
        after=after,
        where=_predicate(query, skip_range=query.sort_field if order_by else None),
        chunk=min(max(query.size + 1, 50), 1001),
    ):
        yield stored.doc, stored.seq


def _from_candidates(query: ListQuery, pools: list[dict[int, Row]], resume: bool) -> Iterator[Row]:
    """Sorted and resumed in memory: the candidate set is small by construction."""
    first, *others = pools
    where = _predicate(query, skip_range=None)
    rows = [
        row
        for ident, row in first.items()
        if all(ident in other for other in others) and (where is None or where(row[0]))
    ]

    def key(row: Row) -> tuple[bool, Any, int]:
        value = _sort_value(row[0], query)
        return value is not None, 0 if value is None else value, row[0]["id"]

    rows.sort(key=key, reverse=query.descending)
    if resume and query.after is not None:
        value = query.after.value
        mark = (value is not None, 0 if value is None else value, query.after.id)
        rows = [row for row in rows if (key(row) < mark if query.descending else key(row) > mark)]
    return iter(rows)


def _predicate(query: ListQuery, *, skip_range: str | None) -> Callable[[Doc], bool] | None:
    checks: list[Callable[[Doc], bool]] = []
    for name, bounds in query.ranges.items():
        if name != skip_range:
            checks.append(_in_range(name, bounds))
    for name, ids in query.ids.items():
        if name == "id":
            checks.append(_has_id(ids))
        else:
            checks.append(_relates_to(name, ids))
    if not checks:
        return None
    return lambda doc: all(check(doc) for check in checks)


def _in_range(name: str, bounds: Range) -> Callable[[Doc], bool]:
    return lambda doc: bounds.holds(doc.get(name))


def _has_id(accepted: frozenset[int]) -> Callable[[Doc], bool]:
    return lambda doc: doc["id"] in accepted


def _relates_to(name: str, accepted: frozenset[int]) -> Callable[[Doc], bool]:
    return lambda doc: doc["rels"].get(name) in accepted


def _included(
    spec: ResourceSpec,
    docs: list[Doc],
    query: ListQuery,
    base_url: str,
    registry: Mapping[str, ResourceSpec],
) -> list[Doc]:
    included: list[Doc] = []
    for name in query.includes:
        target = registry[spec.relationships[name]]
        wanted = dict.fromkeys(d["rels"][name] for d in docs if d["rels"].get(name) is not None)
        for ident in wanted:
            doc = target.collection.get(ident)
            if doc is not None:
                included.append(render(target, doc, base_url, query.fields))
    return included
