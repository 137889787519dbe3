"""The tenant's own settings, as an Autotask administrator would set them (docs/sandbox.md).

They shape how the tenant reads and keeps data: its time zone and how date-only fields are
read, the fields it requires, whether it shows costs to the API user, the decimals it keeps,
whether the Procurement module is on. With `--data` they are kept in the data file, so that
`billbridge sandbox approve-and-post` works on the tenant as it was last served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

DateReading = Literal["convert", "keep"]


@dataclass(frozen=True)
class TenantSettings:
    """How one tenant reads and keeps what is written to it."""

    timezone: str = "America/New_York"
    date_reading: DateReading = "convert"
    #: (entity route name, field or UDF name) the tenant requires beyond Autotask's own.
    required: frozenset[tuple[str, str]] = frozenset()
    keep_empty_udfs: bool = False
    procurement: bool = False
    cost_permission: bool = True
    precision: int = 4
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    def calendar_day(self, instant: datetime) -> date:
        """The day a date-only field keeps of `instant` (aware; naive ones are UTC)."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        if self.date_reading == "convert":
            return instant.astimezone(self.zone).date()
        return instant.astimezone(UTC).date()

    def day_instant(self, day: date) -> datetime:
        """The instant a kept day is read back as: its midnight in the zone it was read in."""
        zone = self.zone if self.date_reading == "convert" else UTC
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    def round_unit(self, value: Decimal) -> Decimal:
        """A unit price, cost or quantity as the tenant keeps it."""
        return value.quantize(Decimal(1).scaleb(-self.precision), ROUND_HALF_UP)

    def requires(self, entity: str, name: str) -> bool:
        return (entity, name) in self.required

    def to_json(self) -> str:
        return json.dumps(
            {
                "timezone": self.timezone,
                "date_reading": self.date_reading,
                "required": sorted([list(pair) for pair in self.required]),
                "keep_empty_udfs": self.keep_empty_udfs,
                "procurement": self.procurement,
                "cost_permission": self.cost_permission,
                "precision": self.precision,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> TenantSettings:
        data: dict[str, Any] = json.loads(text)
        reading = data.get("date_reading", "convert")
        return cls(
            timezone=str(data.get("timezone", "America/New_York")),
            date_reading="keep" if reading == "keep" else "convert",
            required=frozenset((str(e), str(n)) for e, n in data.get("required", [])),
            keep_empty_udfs=bool(data.get("keep_empty_udfs", False)),
            procurement=bool(data.get("procurement", False)),
            cost_permission=bool(data.get("cost_permission", True)),
            precision=int(data.get("precision", 4)),
        )
