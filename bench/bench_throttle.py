"""How close does the client come to Autotask's thread limit? (issue 3)

Starts the sandbox in-process with `--latency-ms 20`, then fires a burst of creates spread over
three endpoints (Companies, Products, Contracts) through one `AutotaskClient` from more worker
threads than the limit allows. With at most 3 requests in flight per endpoint and 20 ms per
request, no client can do better than 3 endpoints x 3 / 20 ms = 450 creates/s: the script
reports the achieved rate against that bound.

    .venv/bin/python bench/bench_throttle.py [--creates 300] [--latency-ms 20] [--workers 12]

The sandbox runs in the same process (and under the same GIL) as the client, so the figure
is a lower bound of what the client achieves against a remote server.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

from billbridge.autotask import AutotaskClient, ClientConfig, F, udf_list
from billbridge.sandbox import SandboxOptions, start_in_background

ENDPOINTS = ("Companies", "Products", "Contracts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    with start_in_background(SandboxOptions(port=0, latency_ms=args.latency_ms)) as sandbox:
        config = ClientConfig(
            username=sandbox.username,
            secret=sandbox.secret,
            integration_code=sandbox.integration_code,
            zone_lookup_url=sandbox.zone_lookup_url,
        )
        with AutotaskClient(config) as client:
            jobs = prepare(client, args.creates)
            before = client.stats.snapshot()
            started = time.perf_counter()
            with ThreadPoolExecutor(args.workers) as pool:
                ids = list(pool.map(lambda job: job(), jobs))
            elapsed = time.perf_counter() - started
            after = client.stats.snapshot()
        refusals = sandbox.runtime.limits.thread_refusals

    assert len(set(ids)) == len(jobs), "every create returned its own id"
    bound = len(ENDPOINTS) * config.max_in_flight_per_endpoint / (args.latency_ms / 1000)
    achieved = len(jobs) / elapsed
    result = {
        "creates": len(jobs),
        "endpoints": list(ENDPOINTS),
        "latency_ms": args.latency_ms,
        "workers": args.workers,
        "elapsed_s": round(elapsed, 3),
        "achieved_per_s": round(achieved, 1),
        "bound_per_s": round(bound, 1),
        "ratio": round(achieved / bound, 3),
        "requests": after.total - before.total,
        "retries": after.retries - before.retries,
        "thread_limit_refusals": refusals,
        "peak_in_flight": {e.lower(): after.peak_in_flight.get(e.lower(), 0) for e in ENDPOINTS},
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['creates']} creates over {', '.join(ENDPOINTS)} with "
            f"{args.latency_ms} ms latency and {args.workers} workers: "
            f"{result['elapsed_s']} s"
        )
        print(
            f"achieved {result['achieved_per_s']}/s, bound {result['bound_per_s']}/s "
            f"(3 endpoints x 3 in flight / {args.latency_ms} ms): ratio {result['ratio']}"
        )
        print(
            f"requests {result['requests']}, retries {result['retries']}, thread-limit "
            f"refusals {refusals}, peak in flight {result['peak_in_flight']}"
        )
    return 0 if refusals == 0 else 1


def prepare(client: AutotaskClient, count: int) -> list[Callable[[], int]]:
    """The create calls, interleaved over the endpoints; lookups and metadata done up front."""
    owner = next(client.query("Resources", [F.eq("isActive", True)]))["id"]
    code = next(client.query("BillingCodes", [F.eq("name", "Microsoft Licensing")]))["id"]
    recurring = client.picklist_value("Contracts", "contractType", "Recurring Service")
    company_body = {"companyType": 1, "phone": "+1 555 0100", "ownerResourceID": owner}
    company = client.create("Companies", {"companyName": "Bench Holdings", **company_body})
    client.fields("Products")  # metadata is cached: only creates are timed
    numbers = itertools.count()

    def new_company() -> int:
        return client.create("Companies", {"companyName": f"Bench {next(numbers)}", **company_body})

    def new_product() -> int:
        return client.create(
            "Products",
            {"name": f"Bench SKU {next(numbers)}", "isActive": True, "isSerialized": False,
             "productBillingCodeID": code, "unitPrice": Decimal("22.00")},
        )  # fmt: skip

    def new_contract() -> int:
        return client.create(
            "Contracts",
            {"companyID": company, "contractName": "Bench contract", "contractType": recurring,
             "status": 1, "timeReportingRequiresStartAndStopTimes": 0,
             "startDate": date(2024, 10, 1), "endDate": date(2025, 9, 30),
             "userDefinedFields": udf_list({"Subscription ID": f"bench-{next(numbers)}"})},
        )  # fmt: skip

    makers = (new_company, new_product, new_contract)
    return [makers[index % len(makers)] for index in range(count)]


if __name__ == "__main__":
    sys.exit(main())
