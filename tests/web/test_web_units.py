"""The web admin's small parts on their own: report states, sessions, the login throttle,
redirect targets, formatting, the company list cache."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from billbridge.domain.matching import CompanyCandidate
from billbridge.domain.organization import Organization
from billbridge.store.reports import ReportSummary
from billbridge.web.directory import CompanyDirectory
from billbridge.web.handlers import safe_local_path
from billbridge.web.rendering import gist, ticks, until
from billbridge.web.security import LoginThrottle, SessionStore, client_key, password_matches
from billbridge.web.status import report_states


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def summary(report_id: str, generated_on: date, content_hash: str = "h2") -> ReportSummary:
    return ReportSummary(
        report_id=report_id,
        organization_id="org",
        generated_on=generated_on,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        currency="USD",
        revision=2,
        content_hash=content_hash,
        line_count=3,
        imported_at=datetime(2026, 11, 6, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("organization", "exported", "last_run", "generated_on", "state", "explanation"),
    [
        (Organization("org", "A", None, 7), "h2", None, date(2026, 11, 6), "exported", "current"),
        (Organization("org", "A", None, 7), "h1", None, date(2026, 11, 6), "changed", "revision 2"),
        (Organization("org", "A", None, 7), None, None, date(2026, 11, 6), "due", "next daily"),
        (
            Organization("org", "A", None, 7),
            None,
            None,
            date(2026, 11, 7),
            "not yet due",
            "due on 2026-11-11",
        ),
        (Organization("org", "A"), None, None, date(2026, 11, 6), "skipped", "unmapped"),
        (Organization("org", "A", None, 7, False), None, None, date(2026, 11, 6), "skipped", "in"),
        (None, None, None, date(2026, 11, 6), "skipped", "unknown organization"),
        (
            Organization("org", "A", None, 7),
            None,
            (4, "failed", "company 7 does not exist in Autotask"),
            date(2026, 11, 7),
            "failed",
            "company 7 does not exist in Autotask; retried from 2026-11-11",
        ),
        (
            Organization("org", "A", None, 7),
            None,
            (4, "skipped", "unmapped"),
            date(2026, 11, 6),
            "due",  # linked since it was skipped
            "next daily check",
        ),
    ],
)
def test_report_states(
    organization: Organization | None,
    exported: str | None,
    last_run: tuple[int, str, str | None] | None,
    generated_on: date,
    state: str,
    explanation: str,
) -> None:
    [found] = report_states(
        [summary("r", generated_on)],
        exported={"r": exported} if exported else {},
        last_runs={"r": last_run} if last_run else {},
        organizations={"org": organization} if organization else {},
        today=date(2026, 11, 10),
        lag_days=4,
    )
    assert found.state == state
    assert explanation in found.explanation


def test_sessions_are_signed_end_on_logout_and_expire() -> None:
    clock = Clock()
    store = SessionStore(b"k" * 32, idle_s=60, max_age_s=300, clock=clock)
    session, cookie = store.create()
    assert store.get(cookie) is session
    assert store.get(session.id) is None  # the bare id is not a cookie
    assert store.get(cookie[:-2] + "xx") is None
    assert SessionStore(b"other key" * 4).get(cookie) is None
    clock.now += 59
    assert store.get(cookie) is session  # each use keeps it alive...
    for _ in range(5):
        clock.now += 59
        store.get(cookie)
    assert store.get(cookie) is None  # ...for at most max_age_s
    session, cookie = store.create()
    clock.now += 61
    assert store.get(cookie) is None  # idle too long
    session, cookie = store.create()
    store.end(session)
    assert store.get(cookie) is None


def test_login_tokens_must_match_their_signed_cookie() -> None:
    store = SessionStore(b"k" * 32)
    token, cookie = store.login_token()
    assert store.login_token_valid(cookie, token, max_age_s=60)
    assert not store.login_token_valid(cookie, token + "x", max_age_s=60)
    assert not store.login_token_valid(None, token, max_age_s=60)
    assert not store.login_token_valid(token, token, max_age_s=60)
    assert not store.login_token_valid(cookie, None, max_age_s=60)


def test_password_comparison() -> None:
    assert password_matches("correct horse", "correct horse")
    assert not password_matches("correct hors", "correct horse")
    assert not password_matches("", "correct horse")


def test_the_throttle_slows_down_then_refuses_then_forgets() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        max_failures=3,
        alert_failures=100,
        window_s=100,
        base_delay_s=0.5,
        max_delay_s=1.5,
        clock=clock,
    )
    assert throttle.retry_after("a") == 0
    assert [throttle.failed("a") for _ in range(3)] == [0.5, 1.0, 1.5]
    assert throttle.retry_after("a") == 101
    assert throttle.retry_after("b") == 0  # another address may still try
    clock.now += 101
    assert throttle.retry_after("a") == 0
    throttle.failed("a")
    throttle.succeeded("a")
    assert throttle.failed("a") == 0.5


def test_guessing_from_many_addresses_never_locks_out_a_clean_one() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        max_failures=10, alert_failures=20, alert_max_failures=2, window_s=100, clock=clock
    )
    for n in range(200):  # an attacker rotating through addresses
        throttle.failed(f"198.51.100.{n}")
    assert throttle.on_alert()
    assert throttle.retry_after("203.0.113.7") == 0  # the owner, who guessed nothing wrong
    throttle.failed("203.0.113.7")  # a typo by the owner is slowed to the longest delay...
    assert throttle.retry_after("203.0.113.7") == 0  # ...and still leaves a second try
    assert throttle.failed("203.0.113.7") == throttle.max_delay_s
    assert throttle.retry_after("203.0.113.7") > 0  # on alert, the second wrong one locks it
    assert throttle.retry_after("198.51.100.199") == 0  # one failure each: under the limit
    clock.now += 101
    assert not throttle.on_alert() and throttle.retry_after("203.0.113.7") == 0


def test_the_throttle_counts_an_ipv6_client_by_its_64_and_stays_bounded() -> None:
    throttle = LoginThrottle(max_failures=3, alert_failures=10**6, max_clients=50)
    for n in range(3):
        throttle.failed(f"2001:db8:1:2::{n + 1:x}")
    assert throttle.retry_after("2001:db8:1:2:ffff::9") > 0  # the same /64
    assert throttle.retry_after("2001:db8:1:3::1") == 0
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    for n in range(10_000):
        throttle.failed(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert len(throttle._failures) <= 50


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/reports?state=due", "/reports?state=due"),
        ("/", "/"),
        ("", "/"),
        (None, "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("reports", "/"),
    ],
)
def test_only_local_paths_are_redirect_targets(candidate: str | None, expected: str) -> None:
    assert safe_local_path(candidate) == expected


def test_formatting() -> None:
    now = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    assert until(datetime(2026, 11, 11, 2, 0, tzinfo=UTC), now) == "in 16 h 30 min"
    assert until(datetime(2026, 11, 10, 9, 35, tzinfo=UTC), now) == "in 5 min"
    assert until(datetime(2026, 11, 13, 9, 30, tzinfo=UTC), now) == "in 3 d 0 h"
    assert until(now, now) == "now"
    assert str(ticks("run `billbridge map <x>` & <b>")) == (
        "run <code>billbridge map &lt;x&gt;</code> &amp; &lt;b&gt;"
    )
    fields = {"name": "M365 2026-10", "unitQuantity": "25", "unitPrice": "22.00"}
    charge = SimpleNamespace(
        action="create", entity="ContractCharge", changes={**fields, "unitCost": "19.80"}
    )
    assert gist(charge) == "M365 2026-10: 25 x 22.00 (cost 19.80)"
    update = SimpleNamespace(
        action="update", entity="Contract", changes={"description": 1, "endDate": 2}
    )
    assert gist(update) == "endDate, description"


def test_the_company_list_is_fetched_once_for_a_while() -> None:
    clock = Clock()
    fetched: list[int] = []

    def fetch() -> list[CompanyCandidate]:
        fetched.append(1)
        return [CompanyCandidate(len(fetched), "Contoso")]

    directory = CompanyDirectory(fetch, ttl_s=60, clock=clock)
    assert directory.get().companies[0].id == 1
    clock.now += 59
    assert directory.get().companies[0].id == 1
    clock.now += 2
    assert directory.get().companies[0].id == 2
    assert directory.get(refresh=True).companies[0].id == 3
    assert directory.get().by_id()[3].name == "Contoso"
