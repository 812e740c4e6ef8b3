"""Updating a call the target already holds: the planned fields, a refused field, a recreate.

A mixin of :class:`syncer.push.Pusher` (its attributes are the pusher's). A record callsync
holds a remote id for is only ever updated (or, where the route asks and callsync wrote it,
deleted and logged again): never created a second time. An edit made in the target that the
plan keeps becomes a change of the canonical call (``syncer/accepted.py``) in the transaction
that records the update or the reconciliation, so the call's other targets are updated to it;
where the target refuses the update, before its copy is recreated (which then carries it) or
left stale (which holds it already).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from connectors.base import CannotUpdate, Connector, Resolved, WriteOptions
from syncer import accepted, conflicts, planner
from syncer.config import RouteConfig
from syncer.conflicts import with_values
from syncer.errors import AmbiguousWriteError, AuthError, VendorError
from syncer.model import Call
from syncer.push_facts import kept_edits, planned_row, written_fields
from syncer.push_ledger import LedgerWrites, attempt_count
from syncer.store import ledger
from syncer.store.leases import check
from syncer.store.ledger import DONE, FAILED, STALE, WRITTEN


class Updates(LedgerWrites):
    target: Connector
    route: RouteConfig

    @property
    def options(self) -> WriteOptions:
        raise NotImplementedError

    def decide(self, call: Call, link: Any, row: Any) -> planner.Decision:
        raise NotImplementedError

    def _execute(self, call: Call, link: Any, decision: planner.Decision) -> None:
        raise NotImplementedError

    def _resolve(self, call: Call, link: Any) -> Resolved | None:
        raise NotImplementedError

    def _planned(self, call: Call, decision: planner.Decision) -> None:
        raise NotImplementedError

    def _rewrite(self, call: Call, link: Any, decision: planner.Decision) -> None:
        """The planned update: only ``decision.fields`` change; what the target keeps (a kept
        edit, a never-overwrite field) is sent as the target holds it. A target that cannot
        edit calls (planned stale, or recreate) is asked too: it succeeds when it already says
        what the call says (a change it cannot hold), else it names the field it refuses."""
        resolved = self._resolve(call, link)
        if resolved is None:
            return
        if self.plan is not None:
            if decision.action == "update":
                self.stats.updated += 1
            elif decision.action == "stale":
                self.stats.stale += 1
            else:
                self.stats.created += 1
            self._planned(call, decision)
            return
        sent = with_values(call, decision.keep)
        before = self._shown_before(link)
        try:
            self.target.update(link.remote_id, sent, resolved)
        except CannotUpdate as cannot:
            self._cannot_update(call, link, cannot, decision)
            return
        except AuthError:
            raise
        except (VendorError, AmbiguousWriteError) as error:
            # The record exists: the next attempt updates it again, it never creates another.
            self._record(call, FAILED, f"update failed: {error}", attempt_count(link))
            self.stats.failed += 1
            return
        kept, at = self._kept(link, decision)
        with self.engine.begin() as conn:
            now = self._accept(conn, call, kept, at)
            ledger.complete(
                conn,
                self.fence,
                call.call_uid,
                self.name,
                link.remote_id,
                now.content_hash(),
                kind=link.kind,
                fields=written_fields(now, sent, before),
                edits=kept_edits(kept, at),
                seen_edits=link.target_edits,
                sent_back=self._read_back(sent),
            )
        self.stats.updated += 1

    @staticmethod
    def _kept(link: Any, decision: planner.Decision) -> tuple[dict[str, Any], datetime | None]:
        """The target's edits on the row that ``decision`` keeps (field -> value), and when."""
        row = planned_row(link)
        if row is None:
            return {}, None
        kept = {f: v for f, v in row.edits.values.items() if f in decision.kept_edits}
        return kept, row.edits.at

    def _accept(self, conn: Connection, call: Call, kept: dict[str, Any], at: Any) -> Call:
        """``call`` with the target's ``kept`` edits that became its changes (none: as it is)."""
        if not kept:
            return call
        check(conn, self.fence)  # a writer that lost its lease changes no call either
        policy = self.route.conflicts.policy()
        changed = accepted.accept(conn, call.call_uid, kept, at, self.name, policy)
        return conflicts.with_values(call, changed)

    def _read_back(self, sent: Call) -> dict[str, Any]:
        """The editable fields of ``sent`` as the target reads them back (``Connector``)."""
        editable = self.target.editable
        return self.target.read_back(
            {name: value for name, value in conflicts.values(sent).items() if name in editable}
        )

    def _shown_before(self, link: Any) -> dict[str, Any]:
        """What the copy showed of its editable fields before this update, as read back: what
        was written there, or a rep's edit noted since (a read from before the update shows
        that too)."""
        editable = self.target.editable
        held = (link.written_fields or {}).get("held") or {}
        shown = self.target.read_back({f: v for f, v in held.items() if f in editable})
        noted = (link.target_edits or {}).get("values") or {}
        shown.update({f: v for f, v in noted.items() if f in editable})
        return shown

    def _recreate(self, call: Call, link: Any) -> None:
        """A target that cannot edit a call: delete callsync's copy, then log it again."""
        self.target.delete(link.remote_id)
        self._record(call, FAILED, "deleted to be recreated", 1, forget_remote=True)
        self._execute(call, None, self.decide(call, None, None))

    def _cannot_update(
        self, call: Call, link: Any, cannot: CannotUpdate, decision: planner.Decision
    ) -> None:
        """The target refused a field (planned stale or recreate, or one the planner could not
        know it refuses). An edit the decision keeps becomes the call's change first: the
        recreated copy is logged with it, and a copy left stale holds it already. (A crash
        before the copy is recreated or the row marked stale leaves the call changed: the next
        push finds the edit already the call's value and decides again.)"""
        kept, at = self._kept(link, decision)
        if kept:
            with self.engine.begin() as conn:
                call = self._accept(conn, call, kept, at)
        recreate = self.options.recreate_on_change and self.target.write_support.delete
        if recreate and link.kind == WRITTEN:  # never delete a record callsync did not write
            self._recreate(call, link)
            return
        self._record(call, STALE, f"cannot update in target: {cannot.field}", 1)
        self.stats.stale += 1

    def _reconcile(self, call: Call, link: Any, decision: planner.Decision) -> None:
        if link is None or link.state != DONE or link.written_hash == call.content_hash():
            return
        # What the target holds: what was written, and what it kept (an edit, an owned field).
        held = dict((link.written_fields or {}).get("held") or {})
        held.update(decision.keep if held else {})
        kept, at = self._kept(link, decision)
        with self.engine.begin() as conn:
            now = self._accept(conn, call, kept, at)
            # Nothing is written: when the last write landed, and what it replaced, stay.
            written = link.written_fields or {}
            fields = {**written, "basis": conflicts.digests(conflicts.values(now)), "held": held}
            ledger.reconcile(
                conn,
                self.fence,
                call.call_uid,
                self.name,
                now.content_hash(),
                fields if held else None,
                decision.reason,
            )
