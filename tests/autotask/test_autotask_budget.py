"""The request budget: how long the hourly threshold makes an export take, estimated before it
runs, and the same figure the client's pacing actually waits."""

from __future__ import annotations

import pytest

from billbridge.autotask import ThresholdInfo, estimate_budget
from billbridge.autotask.throttle import ThresholdGovernor


def info(used: int, threshold: int = 10_000, minutes: int = 60) -> ThresholdInfo:
    return ThresholdInfo(threshold, minutes, used)


def paced_wait(start: ThresholdInfo, requests: int, share: float) -> float:
    """What `ThresholdGovernor` sleeps for `requests` requests, on a fake clock."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    governor = ThresholdGovernor(
        lambda: start,
        share=share,
        check_every=10**9,
        check_interval_s=10**9,
        max_wait_s=0,
        sleep=sleep,
        clock=lambda: now[0],
    )
    for _ in range(requests):
        governor.before_request()
    return now[0]


def test_an_export_within_the_free_part_of_the_share_waits_for_nothing() -> None:
    estimate = estimate_budget(info(used=1_200), 2_000, share=0.5)
    assert estimate.fits and estimate.wait_s == 0
    assert estimate.budget == 5_000 and estimate.available_now == 3_800
    text = estimate.describe()
    assert text.startswith("about 2,000 Autotask requests; billbridge may use 50% of")
    assert "10,000 an hour (1,200 used now): no waiting" in text


@pytest.mark.parametrize(("used", "requests"), [(0, 4_500), (3_000, 1_900), (3_900, 1_050)])
def test_the_estimate_is_what_the_pacing_waits(used: int, requests: int) -> None:
    estimate = estimate_budget(info(used), requests, share=0.5)
    actual = paced_wait(info(used), requests, share=0.5)
    assert actual > 0
    assert estimate.wait_s == pytest.approx(actual, rel=0.02, abs=1.0)
    assert "of waiting for the budget" in estimate.describe()


def test_an_export_past_the_share_is_spread_over_hours() -> None:
    # 400 organizations' first export at about 3 requests each plus products: past the share.
    estimate = estimate_budget(info(used=0), 12_000, share=0.4)
    # 4,000 now (the last 1,000 paced over half an hour), then 8,000 at 4,000 an hour.
    assert estimate.wait_s == pytest.approx(1_800 + 2 * 3_600, rel=0.01)
    assert "2 h 30 min of waiting" in estimate.describe()
    assert "goes on where it stopped" in estimate.describe()


def test_a_used_up_share_waits_from_the_first_request() -> None:
    estimate = estimate_budget(info(used=6_000), 500, share=0.5)
    assert estimate.available_now == 0
    assert estimate.wait_s == pytest.approx(500 / 5_000 * 3_600)
