"""The pure money rules: rounding per row, totals per currency, changes, a conflict's amount,
and the reconcile classes (case-insensitive subscription ids, the date window)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billbridge.domain.reconcile import (
    Expected,
    HeldCharge,
    Reason,
    Status,
    period_window,
    reconcile,
)
from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.subscription import SubscriptionType
from billbridge.domain.totals import (
    SubscriptionCharge,
    changes_since,
    conflict_amount,
    margin_percent,
    money_text,
    subscription_charges,
    total,
)

D = Decimal


def charge(
    sub: str, qty: str, cost: str, price: str, org: str = "o", currency: str = "USD"
) -> SubscriptionCharge:
    return SubscriptionCharge(
        "r", org, date(2026, 10, 1), currency, sub, SubscriptionType.CSP365, "Basic",
        D(qty), D(cost), D(price),
    )  # fmt: skip


def held(sub: str | None, qty: str, price: str, *, cid: int = 1, company: int = 7) -> HeldCharge:
    return HeldCharge(cid, 100 + cid, company, sub, "x", date(2026, 10, 1), D(qty), D("1"),
                      D(price), False)  # fmt: skip


def test_each_row_is_rounded_half_up_once_and_totals_are_sums_of_rows() -> None:
    a = charge("a", "3", "0.335", "0.005")  # 1.005 -> 1.01 ; 0.015 -> 0.02
    b = charge("b", "1", "1.005", "0.125")  # 1.005 -> 1.01 ; 0.125 -> 0.13
    assert (money_text(a.cost), money_text(a.price)) == ("1.01", "0.02")
    [usd] = total([a, b])
    assert (money_text(usd.cost), money_text(usd.price)) == ("2.02", "0.15")
    assert money_text(D("5")) == "5.00" and money_text(D("-0.004")) == "0.00"


def test_totals_never_mix_currencies() -> None:
    sums = total([charge("a", "1", "1", "2"), charge("b", "1", "3", "5", currency="EUR")])
    assert [(s.currency, money_text(s.price)) for s in sums] == [("EUR", "5.00"), ("USD", "2.00")]


def test_margin_percent_of_the_price() -> None:
    assert margin_percent(D("22.00"), D("19.80")) == D("10.00")
    assert margin_percent(D("0"), D("1")) is None
    assert margin_percent(D("3"), D("4")) == D("-33.33")


def test_subscription_charges_follow_the_rules() -> None:
    line = ReportLine
    report = BillingReport(
        "r1", "o", date(2026, 10, 6), date(2026, 10, 1), date(2026, 10, 31), "USD",
        (
            line("s", SubscriptionType.CSP365, "k", "Basic", D("10"), D("5.40"), D("6.00")),
            line("s", SubscriptionType.CSP365, "k", "Basic", D("12"), D("5.40"), D("6.50")),
            line("s", SubscriptionType.CSP365, "k", "Basic", D("12"), D("5.40"), D("6.00")),
            line("z", SubscriptionType.AZURE, "m", "VM", D("0.333333"), D("1"), D("1.5")),
            line("z", SubscriptionType.AZURE, "m", "VM", D("0.333333"), D("1"), D("1.5")),
        ),
    )  # fmt: skip
    basic, azure = subscription_charges(report)
    # The largest quantity, the last such line's prices.
    assert (basic.quantity, basic.unit_price, money_text(basic.price)) == (D("12"), D("6.00"),
                                                                          "72.00")  # fmt: skip
    # Azure: summed exactly (0.9999990), rounded once.
    assert (azure.quantity, money_text(azure.price), money_text(azure.cost)) == (
        D("1"), "1.00", "0.67",
    )  # fmt: skip


def test_changes_since_the_last_period() -> None:
    before = [
        charge("a", "10", "5", "6"),
        charge("b", "2", "5", "6"),
        charge("gone", "1", "1", "2"),
    ]
    now = [charge("A", "12", "5", "6"), charge("b", "2", "5", "6"), charge("new", "1", "1", "3")]
    changes = {c.subscription_id.casefold(): c for c in changes_since(before, now)}
    assert set(changes) == {"a", "gone", "new"}  # "b" did not change; ids without case
    assert (changes["a"].seats, money_text(changes["a"].amount), changes["a"].direction) == (
        D("2"), "12.00", "up",
    )  # fmt: skip
    assert changes["gone"].direction == "ended" and changes["new"].direction == "new"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"unitQuantity": {"from": "25", "to": "27"}},
         "2 more seats x 22.00 = 44.00 USD to bill (charge 29690004 is billed)"),
        ({"unitQuantity": {"from": "25", "to": "24"}},
         "1 fewer seat x 22.00 = 22.00 USD to credit (charge 29690004 is billed)"),
        ({"unitPrice": {"from": "20", "to": "22.00"}},
         "25 x 22.00 instead of 25 x 20.00 = 50.00 USD to bill (charge 29690004 is billed)"),
    ],
)  # fmt: skip
def test_a_conflict_carries_its_amount(changes: dict[str, object], expected: str) -> None:
    amount = conflict_amount(
        changes, {"unitQuantity": D("25"), "unitPrice": D("22.00")}, "USD", 29690004
    )
    assert amount is not None and amount.text == expected


def test_a_conflict_without_money_has_no_amount() -> None:
    assert conflict_amount({"name": {"from": "a", "to": "b"}}, {}, "USD", 1) is None


def expected(sub: str, qty: str, price: str, company: int | None = 7) -> Expected:
    return Expected(charge(sub, qty, "1", price), "Org", company, Reason.NOT_YET_EXPORTED)


def test_subscription_ids_are_compared_without_case() -> None:
    result = reconcile("2026-10", [expected("ABC-1", "2", "3")], [held("abc-1", "2", "3")],
                       linked={7: ("o", "Org")})  # fmt: skip
    [row] = result.rows
    assert row.status is Status.MATCHED and result.all_matched


def test_several_charges_add_up_and_are_flagged() -> None:
    result = reconcile(
        "2026-10",
        [expected("s", "3", "2")],
        [held("s", "2", "2", cid=1), held("s", "1", "2", cid=2)],
        linked={7: ("o", "Org")},
    )
    [row] = result.rows
    assert row.status is Status.MATCHED
    assert [f.value for f in row.flags] == ["several_charges"]
    assert row.to_json()["autotask_charge_ids"] == [1, 2]


def test_autotask_only_needs_a_linked_company() -> None:
    result = reconcile(
        "2026-10",
        [],
        [held("x", "1", "5", cid=1, company=7), held("y", "1", "5", cid=2, company=8)],
        linked={7: ("o", "Org")},
    )
    assert [(r.status, r.subscription_id) for r in result.rows] == [(Status.AUTOTASK_ONLY, "x")]


def test_periods_windows_do_not_overlap() -> None:
    september = period_window(date(2026, 9, 1), date(2026, 9, 30))
    october = period_window(date(2026, 10, 1), date(2026, 10, 31))
    assert september == (date(2026, 8, 30), date(2026, 9, 28))
    assert october[0] == september[1].replace(day=29)
