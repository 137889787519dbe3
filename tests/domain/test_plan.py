"""Desired against actual: create, update only what changed, unchanged, conflict."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from billbridge.domain.plan import (
    Action,
    Operation,
    ReportPlan,
    ReportStatus,
    TenantView,
    deferred,
    over_budget,
    plan_reports,
    same_value,
)
from billbridge.domain.records import (
    ActualCharge,
    ActualCompany,
    ActualContract,
    ActualProduct,
    ActualState,
    ChargeMarker,
    ContractKey,
    DesiredState,
    Entity,
    ProductKey,
)
from billbridge.domain.report import ReportLine
from billbridge.domain.rules import desired_state
from billbridge.domain.subscription import SubscriptionType
from tests.domain.builders import BASIC, CONTOSO, RULES, LineDates, line, report

COMPANY = {101: ActualCompany(101, "Contoso Ltd", True)}
TERM = LineDates(subscription_start=date(2026, 3, 1), subscription_end=date(2027, 2, 28))


def state_of(*lines: ReportLine, report_id: str = "r-oct") -> DesiredState:
    result = desired_state(report(*lines, report_id=report_id), CONTOSO, {BASIC.sku: BASIC}, RULES)
    assert isinstance(result, DesiredState)
    return result


def existing_product(**changes: Any) -> ActualProduct:
    product = ActualProduct(
        7, BASIC.product_name, BASIC.sku, Decimal("5.4"), Decimal("6"), 29682801, True
    )
    return replace(product, **changes)


def existing_contract(**changes: Any) -> ActualContract:
    contract = ActualContract(
        55,
        101,
        "sub-1",
        "Microsoft 365 Business Basic (sub-1)",
        date(2026, 3, 1),
        date(2027, 2, 28),
    )
    return replace(contract, **changes)


def existing_charge(**changes: Any) -> ActualCharge:
    desired = state_of(line(**TERM)).charges[0]
    charge = ActualCharge(
        900,
        55,
        ChargeMarker("r-oct", "sub-1", "2026-10"),
        desired.name,
        desired.description,
        desired.notes,
        date(2026, 10, 1),
        Decimal("10.0000"),
        Decimal("5.4000"),
        Decimal("6.0000"),
        7,
        False,
    )
    return replace(charge, **changes)


def actions(plan: ReportPlan) -> list[tuple[str, str]]:
    return [(op.entity.value, op.action.value) for op in plan.operations]


def test_everything_new_is_created_products_first() -> None:
    [plan] = plan_reports([state_of(line(**TERM))], ActualState(companies=COMPANY))
    assert actions(plan) == [
        ("Product", "create"),
        ("Contract", "create"),
        ("ContractCharge", "create"),
    ]
    assert plan.status is ReportStatus.EXPORTED
    contract = plan.operations[1]
    assert contract.fields["startDate"] == date(2026, 3, 1)
    assert contract.fields["companyID"] == 101
    charge = plan.operations[2]
    assert charge.contract_key == contract.key and charge.product_key == plan.operations[0].key
    assert "productID" not in charge.fields  # known only once the product exists


def test_exactly_what_is_there_is_unchanged() -> None:
    actual = ActualState(
        COMPANY, (existing_contract(),), (existing_charge(),), (existing_product(),)
    )
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    assert actions(plan) == [
        ("Product", "unchanged"),
        ("Contract", "unchanged"),
        ("ContractCharge", "unchanged"),
    ]
    assert plan.status is ReportStatus.NOTHING_TO_DO
    assert [op.autotask_id for op in plan.operations] == [7, 55, 900]


def test_a_correction_updates_only_the_changed_fields() -> None:
    actual = ActualState(
        COMPANY, (existing_contract(),), (existing_charge(),), (existing_product(),)
    )
    [plan] = plan_reports([state_of(line(quantity="12", **TERM))], actual)
    charge = plan.operations[2]
    assert charge.action is Action.UPDATE and charge.autotask_id == 900
    assert set(charge.fields) == {"unitQuantity", "description"}
    assert charge.fields["unitQuantity"] == Decimal("12")
    assert charge.previous["unitQuantity"] == Decimal("10.0000")


def test_a_billed_charge_that_would_change_is_a_conflict() -> None:
    actual = ActualState(
        COMPANY, (existing_contract(),), (existing_charge(is_billed=True),), (existing_product(),)
    )
    [plan] = plan_reports([state_of(line(quantity="12", **TERM))], actual)
    charge = plan.operations[2]
    assert charge.action is Action.CONFLICT
    assert (charge.reason or "").startswith(
        "2 more seats x 6.00 = 12.00 USD to bill (charge 900 is billed);"
    )
    assert plan.status is ReportStatus.NEEDS_ATTENTION


def test_a_billed_charge_whose_cost_alone_changes_is_a_conflict_without_an_amount() -> None:
    actual = ActualState(
        COMPANY, (existing_contract(),), (existing_charge(is_billed=True),), (existing_product(),)
    )
    [plan] = plan_reports([state_of(line(unit_cost="5.00", **TERM))], actual)
    charge = plan.operations[2]
    assert charge.action is Action.CONFLICT
    assert (charge.reason or "").startswith("charge 900 is already billed (Approve & Post);")


def test_a_billed_charge_that_is_unchanged_is_fine() -> None:
    actual = ActualState(
        COMPANY, (existing_contract(),), (existing_charge(is_billed=True),), (existing_product(),)
    )
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    assert plan.operations[2].action is Action.UNCHANGED


def test_renewal_moves_the_end_date_and_never_back() -> None:
    renewed = LineDates(subscription_start=date(2027, 3, 1), subscription_end=date(2028, 2, 29))
    actual = ActualState(COMPANY, (existing_contract(),), (), (existing_product(),))
    [plan] = plan_reports([state_of(line(**renewed))], actual)
    contract = plan.operations[1]
    assert (contract.action, dict(contract.fields)) == (
        Action.UPDATE,
        {"endDate": date(2028, 2, 29)},
    )
    later = ActualState(
        COMPANY, (existing_contract(end_date=date(2028, 2, 29)),), (), (existing_product(),)
    )
    [older] = plan_reports([state_of(line(**TERM))], later)
    assert older.operations[1].action is Action.UNCHANGED


def test_synthetic_terms_are_never_moved() -> None:
    azure = line("az-1", SubscriptionType.AZURE, "1", "1", "2", "m1", "VM")
    contract = existing_contract(
        subscription_id="az-1", start_date=date(2026, 9, 1), end_date=date(2036, 9, 1)
    )
    [plan] = plan_reports([state_of(azure)], ActualState(COMPANY, (contract,)))
    assert [op.action for op in plan.operations if op.entity is Entity.CONTRACT] == [
        Action.UNCHANGED
    ]


def test_product_differences_are_updated_but_the_azure_product_is_left_alone() -> None:
    azure_product = ActualProduct(8, "Azure Plan", None, Decimal("99"), Decimal("99"), 1, False)
    actual = ActualState(
        COMPANY, (), (), (existing_product(unit_price=Decimal("5.5")), azure_product)
    )
    azure = line("az-1", SubscriptionType.AZURE, "1", "1", "2", "m1", "VM")
    [plan] = plan_reports([state_of(line(), azure)], actual)
    basic, azure_op = plan.operations[0], plan.operations[1]
    assert (basic.action, dict(basic.fields)) == (Action.UPDATE, {"unitPrice": Decimal("6.00")})
    assert (azure_op.action, azure_op.autotask_id) == (Action.UNCHANGED, 8)
    charge = [op for op in plan.operations if op.entity is Entity.CHARGE][1]
    assert charge.fields["productID"] == 8


def test_a_product_shared_by_two_reports_is_planned_once() -> None:
    plans = plan_reports(
        [state_of(line(), report_id="a"), state_of(line("sub-2"), report_id="b")],
        ActualState(COMPANY),
    )
    assert [op.entity for op in plans[1].operations] == [Entity.CONTRACT, Entity.CHARGE]


def test_unknown_or_inactive_company_fails_the_report() -> None:
    [plan] = plan_reports([state_of(line())], ActualState())
    assert (
        plan.status is ReportStatus.FAILED
        and plan.reason == "company 101 does not exist in Autotask"
    )
    inactive = {101: ActualCompany(101, "Contoso Ltd", False)}
    [plan] = plan_reports([state_of(line())], ActualState(companies=inactive))
    assert plan.status is ReportStatus.FAILED and "inactive" in (plan.reason or "")
    assert plan.operations == ()


def test_subscription_held_by_a_contract_of_another_company_is_a_conflict() -> None:
    actual = ActualState(COMPANY, (existing_contract(company_id=202),))
    [plan] = plan_reports([state_of(line())], actual)
    contract = plan.operations[1]
    assert contract.action is Action.CONFLICT and "company 202" in (contract.reason or "")


def test_charge_written_by_another_report_is_a_conflict() -> None:
    charge = existing_charge(marker=ChargeMarker("r-other", "sub-1", "2026-10"))
    actual = ActualState(COMPANY, (existing_contract(),), (charge,), (existing_product(),))
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    assert plan.operations[2].action is Action.CONFLICT
    assert "r-other" in (plan.operations[2].reason or "")


def test_look_alike_contracts_without_the_udf_are_listed() -> None:
    look_alike = existing_contract(
        id=44, subscription_id=None, name="Microsoft 365 Business Basic - Contoso"
    )
    unrelated = existing_contract(id=45, subscription_id=None, name="Managed Services")
    [plan] = plan_reports([state_of(line())], ActualState(COMPANY, (look_alike, unrelated)))
    assert plan.operations[1].action is Action.CREATE
    assert [w for w in plan.warnings if "possible duplicate" in w] == [
        "possible duplicate: contract 44 'Microsoft 365 Business Basic - Contoso' of company 101"
        " has no subscription id; if it is subscription sub-1, set its subscription field so"
        " billbridge adopts it"
    ]


def test_skipped_reports_carry_their_reason() -> None:
    skipped = desired_state(report(line()), CONTOSO.linked_to(None), {}, RULES)
    [plan] = plan_reports([skipped], ActualState())
    assert (plan.status, plan.reason) == (ReportStatus.SKIPPED, "unmapped")


def test_values_compare_as_autotask_stores_them() -> None:
    assert same_value(Decimal("5.4"), Decimal("5.4000"))
    assert same_value(Decimal("10.80375"), Decimal("10.8038"))
    assert not same_value(Decimal("5.41"), Decimal("5.40"))
    assert same_value("name ", "name")
    assert same_value(None, "")
    assert not same_value(True, False)


def test_catching_up_two_months_creates_one_contract_spanning_both() -> None:
    from tests.domain.builders import OCTOBER

    september = (date(2026, 9, 1), date(2026, 9, 30))
    old_term = LineDates(subscription_start=date(2025, 10, 1), subscription_end=date(2026, 9, 30))
    new_term = LineDates(subscription_start=date(2026, 10, 1), subscription_end=date(2027, 9, 30))
    first = desired_state(
        report(line(**old_term), period=september, report_id="sep"), CONTOSO, {}, RULES
    )
    second = desired_state(
        report(line(**new_term), period=OCTOBER, report_id="oct"), CONTOSO, {}, RULES
    )
    sep, oct_ = plan_reports([first, second], ActualState(COMPANY))
    contracts = [op for op in sep.operations + oct_.operations if op.entity is Entity.CONTRACT]
    assert len(contracts) == 1
    assert (contracts[0].fields["startDate"], contracts[0].fields["endDate"]) == (
        date(2025, 10, 1),
        date(2027, 9, 30),
    )
    charges = [op for op in sep.operations + oct_.operations if op.entity is Entity.CHARGE]
    assert [op.action for op in charges] == [Action.CREATE, Action.CREATE]


def test_synthetic_contract_of_a_catch_up_starts_with_the_first_period() -> None:
    september = (date(2026, 9, 1), date(2026, 9, 30))
    azure = line("az-1", SubscriptionType.AZURE, "1", "1", "2", "m1", "VM")
    later = desired_state(report(azure, report_id="oct"), CONTOSO, {}, RULES)
    earlier = desired_state(report(azure, period=september, report_id="sep"), CONTOSO, {}, RULES)
    oct_, sep = plan_reports([later, earlier], ActualState(COMPANY))
    [contract] = [op for op in oct_.operations if op.entity is Entity.CONTRACT]
    assert contract.fields["startDate"] == date(2026, 9, 1)
    assert contract.fields["endDate"] == date(2036, 9, 1)
    assert [op.entity for op in sep.operations] == [Entity.CHARGE]


def test_two_reports_billing_the_same_subscription_and_period_conflict() -> None:
    first = state_of(line(), report_id="a")
    second = state_of(line(), report_id="b")
    _, plan_b = plan_reports([first, second], ActualState(COMPANY))
    [charge] = [op for op in plan_b.operations if op.entity is Entity.CHARGE]
    assert charge.action is Action.CONFLICT and "report a of this export" in (charge.reason or "")


def test_a_charge_an_earlier_revision_wrote_for_a_dropped_key_is_a_conflict() -> None:
    dropped = existing_charge(id=901, marker=ChargeMarker("r-oct", "sub-9", "2026-10"))
    other_report = existing_charge(id=902, marker=ChargeMarker("r-other", "sub-8", "2026-10"))
    actual = ActualState(
        COMPANY,
        (existing_contract(),),
        (existing_charge(), dropped, other_report),
        (existing_product(),),
    )
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    conflicts = [op for op in plan.operations if op.action is Action.CONFLICT]
    assert [(str(op.key), op.autotask_id) for op in conflicts] == [("sub-9/2026-10", 901)]


def test_keys_compare_without_case() -> None:
    """A contract keyed in capitals by hand is adopted; a sku in other case is the product."""
    actual = ActualState(
        COMPANY,
        (existing_contract(subscription_id="SUB-1"),),
        (),
        (existing_product(sku=BASIC.sku.lower()),),
    )
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    assert actions(plan) == [
        ("Product", "unchanged"),
        ("Contract", "unchanged"),
        ("ContractCharge", "create"),
    ]


def test_a_charge_with_the_old_marker_in_its_description_is_found() -> None:
    old = existing_charge(
        description="Basic: 10 x 6.00 USD\n[billbridge report=r-oct key=SUB-1/2026-10]",
        notes=None,
    )
    old = replace(old, marker=ChargeMarker.find(old.notes, old.description))
    actual = ActualState(COMPANY, (existing_contract(),), (old,), (existing_product(),))
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    charge = plan.operations[2]
    assert charge.action is Action.UPDATE and set(charge.fields) == {"description", "notes"}
    billed = replace(old, is_billed=True)
    actual = ActualState(COMPANY, (existing_contract(),), (billed,), (existing_product(),))
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    assert plan.operations[2].action is Action.UNCHANGED
    assert plan.status is ReportStatus.NOTHING_TO_DO


def test_two_contracts_with_one_subscription_are_a_conflict_naming_both() -> None:
    copied = existing_contract(id=56)
    actual = ActualState(
        COMPANY, (existing_contract(), copied), (existing_charge(),), (existing_product(),)
    )
    [plan] = plan_reports([state_of(line(quantity="12", **TERM))], actual)
    contract, charge = plan.operations[1], plan.operations[2]
    assert contract.action is Action.CONFLICT and "55, 56" in (contract.reason or "")
    assert charge.action is Action.CONFLICT and "55, 56" in (charge.reason or "")
    assert plan.status is ReportStatus.NEEDS_ATTENTION and not plan.writes


def test_plan_at_the_tenants_precision_and_warn_when_rounding_bills_otherwise() -> None:
    lines = [line(quantity="1000", unit_price="0.12345", **TERM)]
    [plan] = plan_reports(
        [state_of(*lines)], ActualState(companies=COMPANY), TenantView(unit_places=4)
    )
    charge = plan.operations[2]
    assert charge.fields["unitPrice"] == Decimal("0.1235")
    [warning] = [w for w in plan.warnings if "decimals" in w]
    assert "123.50 USD" in warning and "123.45 USD" in warning
    wanted = state_of(*lines).charges[0]
    kept = existing_charge(
        unit_quantity=Decimal("1000"),
        unit_price=Decimal("0.1235"),
        description=wanted.description,
        notes=wanted.notes,
    )
    actual = ActualState(COMPANY, (existing_contract(),), (kept,), (existing_product(),))
    [again] = plan_reports([state_of(*lines)], actual, TenantView(unit_places=4))
    assert again.operations[2].action is Action.UNCHANGED


def test_a_field_the_tenant_hides_is_never_updated() -> None:
    hidden = existing_product(unit_cost=None)
    charge = existing_charge(unit_cost=None)
    actual = ActualState(COMPANY, (existing_contract(),), (charge,), (hidden,))
    view = TenantView(hidden=frozenset({"unitCost"}))
    [plan] = plan_reports([state_of(line(**TERM))], actual, view)
    assert [op.action for op in plan.operations] == [Action.UNCHANGED] * 3


def test_a_field_autotasks_record_lacks_is_reported_not_silently_skipped() -> None:
    product = existing_product(unit_cost=None, missing=frozenset({"unitCost"}))
    actual = ActualState(COMPANY, (existing_contract(),), (existing_charge(),), (product,))
    [plan] = plan_reports([state_of(line(**TERM))], actual)
    op = plan.operations[0]
    assert op.action is Action.UNCHANGED
    assert op.reason == "not compared: unitCost (missing from Autotask's record)"


def test_over_budget_leaves_a_suffix_of_the_reports_that_write() -> None:
    def plan_of(report_id: str, writes: int) -> ReportPlan:
        op = Operation(Action.CREATE, Entity.CONTRACT, ContractKey(1, report_id), None, {})
        same = Operation(Action.UNCHANGED, Entity.PRODUCT, ProductKey("sku", None), 7, {})
        return ReportPlan(report_id, "org", ReportStatus.EXPORTED, None, (same,) + (op,) * writes)

    plans = [plan_of("a", 3), plan_of("b", 0), plan_of("c", 2), plan_of("d", 1)]
    assert over_budget(plans, 10) == set()
    assert over_budget(plans, 5) == {"d"}
    # "d" would fit after "c" is left out, but is left too: it may need what "c" writes
    assert over_budget(plans, 4) == {"c", "d"}
    assert over_budget(plans, 0) == {"a", "c", "d"}
    left = deferred(plans[0], "no room")
    assert (left.status, left.reason, left.operations) == (ReportStatus.DEFERRED, "no room", ())
    assert not ReportStatus.DEFERRED.is_done
