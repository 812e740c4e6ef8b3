"""Failures a person can act on (issue 9): credentials refused stop a target at once, an
unreachable target records "not sent", and a target whose read failed is not written into."""

from __future__ import annotations

from syncer.config import RouteConfig
from syncer.errors import AuthError, VendorUnreachableError
from syncer.pull import PullResult
from syncer.push_route import push_route
from syncer.runner import SyncReport
from tests.engine.test_exactly_once import Target, context, row
from tests.engine.test_push import make_call, store


class Refusing(Target):
    def __init__(self, ctx, error: Exception) -> None:
        super().__init__(ctx)
        self.error = error
        self.resolves = 0

    def resolve(self, call, options):
        self.resolves += 1
        raise self.error


def test_refused_credentials_stop_the_target_after_one_call(engine):
    store(engine, *[make_call(n) for n in range(1, 6)])
    target = Refusing(context(engine, "dst"), AuthError("close", 401, "credentials rejected"))
    route = RouteConfig(source="src", targets=["dst"])
    stats = push_route(engine, route, {"dst": target})["dst"]
    assert target.resolves == 1
    assert stats.error is not None and "401" in stats.error


def test_an_unreachable_target_records_the_create_as_not_sent(engine):
    call = make_call(1)
    store(engine, call)
    target = Target(context(engine, "dst"))
    target.create_failures = [VendorUnreachableError("close at http://x: refused 3 times")]
    route = RouteConfig(source="src", targets=["dst"])
    stats = push_route(engine, route, {"dst": target})["dst"]
    assert stats.error is not None
    link = row(engine, call)
    assert link.state == "failed" and link.reason.startswith("not sent")  # no look-up needed


def test_a_target_whose_pull_failed_is_not_written_into(engine):
    store(engine, make_call(1))
    target = Target(context(engine, "dst"))
    route = RouteConfig(source="src", targets=["dst"])
    stats = push_route(engine, route, {"dst": target}, deferred={"dst": "close unreachable"})
    assert target.creates == 0
    assert "deferred" in (stats["dst"].error or "")


def test_a_pull_cut_short_is_a_failed_run():
    report = SyncReport(pulls={"close": PullResult(error="close unreachable")})
    assert report.failed
    assert report.failed_pulls() == {"close": "close unreachable"}
    assert not SyncReport(pulls={"close": PullResult()}).failed
