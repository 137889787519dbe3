"""Charts as inline SVG, rendered on the server: no script, no external request, and only
presentation attributes (the pages' Content-Security-Policy allows no inline style).

Each function returns escaped markup with a `<title>` and an `aria-label`, so that a screen
reader (and a test) reads what the chart shows; the pages print the same figures as a table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal

from markupsafe import Markup, escape

from billbridge.domain.totals import money_text

WIDTH = 960
PALETTE = ("#1f5fbf", "#1c7c43", "#b45309", "#7c3aed", "#0e7490", "#be123c", "#4d7c0f", "#64748b")
REVENUE, COST, MARGIN = "#1f5fbf", "#94a3b8", "#1c7c43"
TEXT, GRID = "#5d6778", "#dde2ea"


def monthly_bars(
    months: Sequence[str],
    revenue: Sequence[Decimal],
    cost: Sequence[Decimal],
    currency: str,
    *,
    title: str,
) -> Markup:
    """Revenue and cost side by side per month, the margin as a line over them."""
    height, left, bottom, top = 300, 70, 40, 30
    plot_w, plot_h = WIDTH - left - 20, height - top - bottom
    margins = [r - c for r, c in zip(revenue, cost, strict=True)]
    low = min([Decimal(0), *margins])
    high, steps = _grid(max([Decimal(1), *revenue, *cost, *margins]))
    scale = _scale(low, high, plot_h)
    zero = top + plot_h - scale(Decimal(0) - low)
    parts = _frame(title, height) + _axis(low, high, steps, left, top, plot_w, plot_h, currency)
    slot = plot_w / max(len(months), 1)
    bar = min(slot * 0.34, 28)
    points = []
    for index, month in enumerate(months):
        x = left + slot * index + slot / 2
        for offset, amount, colour, name in (
            (-bar, revenue[index], REVENUE, "revenue"),
            (0.0, cost[index], COST, "cost"),
        ):
            y = top + plot_h - scale(amount - low)
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{min(y, zero):.1f}" width="{bar:.1f}"'
                f' height="{abs(zero - y):.1f}" fill="{colour}">'
                f"<title>{escape(month)} {name}: {money_text(amount)} {escape(currency)}</title>"
                "</rect>"
            )
        y = top + plot_h - scale(margins[index] - low)
        points.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{MARGIN}"><title>{escape(month)}'
            f" margin: {money_text(margins[index])} {escape(currency)}</title></circle>"
        )
        parts.append(_label(x, height - bottom + 18, month, anchor="middle"))
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{MARGIN}"'
            ' stroke-width="2"/>'
        )
    parts += _legend([("revenue", REVENUE), ("cost", COST), ("margin", MARGIN)], left, 16)
    return _svg(parts, height, title)


def customer_lines(
    months: Sequence[str],
    series: Mapping[str, Sequence[Decimal]],
    currency: str,
    *,
    title: str,
) -> Markup:
    """One line per customer over the months (the biggest first, in the palette's order)."""
    height, left, bottom, top = 340, 70, 40, 68
    plot_w, plot_h = WIDTH - left - 20, height - top - bottom
    values = [v for line in series.values() for v in line]
    low = min([Decimal(0), *values])
    high, steps = _grid(max([Decimal(1), *values]))
    scale = _scale(low, high, plot_h)
    parts = _frame(title, height) + _axis(low, high, steps, left, top, plot_w, plot_h, currency)
    slot = plot_w / max(len(months), 1)
    for index, month in enumerate(months):
        parts.append(_label(left + slot * index + slot / 2, height - bottom + 18, month, "middle"))
    legend = []
    for number, (name, line) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        legend.append((name, colour))
        points = []
        for index, amount in enumerate(line):
            x = left + slot * index + slot / 2
            y = top + plot_h - scale(amount - low)
            points.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>'
                f"{escape(name)}, {escape(months[index])}: {money_text(amount)}"
                f" {escape(currency)}</title></circle>"
            )
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}"'
            ' stroke-width="2"/>'
        )
    parts += _legend(legend, left, 16)
    return _svg(parts, height, title)


def horizontal_bars(items: Sequence[tuple[str, Decimal]], currency: str, *, title: str) -> Markup:
    """One bar per label, largest first as given, with its amount at the end."""
    row, left, top = 26, 230, 10
    height = top * 2 + row * max(len(items), 1)
    plot_w = WIDTH - left - 130
    high = max([Decimal(1), *(amount for _, amount in items)])
    parts = _frame(title, height)
    for index, (name, amount) in enumerate(items):
        y = top + row * index
        width = float(max(amount, Decimal(0)) / high) * plot_w
        shown = name if len(name) <= 32 else name[:31] + "…"
        parts.append(_label(left - 8, y + row / 2 + 4, shown, "end"))
        parts.append(
            f'<rect x="{left}" y="{y + 4}" width="{width:.1f}" height="{row - 8}"'
            f' fill="{PALETTE[4]}"><title>{escape(name)}: {money_text(amount)}'
            f" {escape(currency)}</title></rect>"
        )
        parts.append(
            _label(left + width + 6, y + row / 2 + 4, f"{money_text(amount)} {currency}", "start")
        )
    return _svg(parts, height, title)


def nice_ceiling(amount: Decimal) -> Decimal:
    """The next round number at or above `amount` (1, 2, 2.5 or 5 times a power of ten), so
    that the four grid lines fall on readable amounts."""
    if amount <= 0:
        return Decimal(1)
    power = Decimal(10) ** (amount.adjusted())
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        if power * factor >= amount:
            return power * factor
    return power * 10


def _scale(low: Decimal, high: Decimal, pixels: float) -> Callable[[Decimal], float]:
    span = float(high - low) or 1.0

    def scale(amount: Decimal) -> float:
        return float(amount) / span * pixels

    return scale


def _frame(title: str, height: int) -> list[str]:
    return [f"<title>{escape(title)}</title>"]


def _grid(high: Decimal) -> tuple[Decimal, int]:
    """A round top for the axis and the number of grid steps up to it (at most four)."""
    step = nice_ceiling(high / 4)
    steps = max(1, int((high / step).to_integral_value(rounding=ROUND_CEILING)))
    return step * steps, steps


def _axis(
    low: Decimal,
    high: Decimal,
    steps: int,
    left: int,
    top: int,
    plot_w: float,
    plot_h: float,
    currency: str,
) -> list[str]:
    parts = []
    for step in range(steps + 1):
        amount = low + (high - low) * Decimal(step) / Decimal(steps)
        y = top + plot_h - plot_h * step / steps
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}"'
            f' stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_label(left - 8, y + 4, _short(amount), "end"))
    parts.append(_label(left - 8, top - 12, currency, "end"))
    return parts


def _legend(entries: Sequence[tuple[str, str]], left: int, y: int) -> list[str]:
    """Swatches and names in rows that wrap before the right edge."""
    parts = []
    x, row_y = float(left), y
    for name, colour in entries:
        shown = name if len(name) <= 24 else name[:23] + "…"
        width = 30 + 7.2 * len(shown)
        if x + width > WIDTH - 10 and x > left:
            x, row_y = float(left), row_y + 18
        parts.append(f'<rect x="{x:.1f}" y="{row_y - 9}" width="12" height="12" fill="{colour}"/>')
        parts.append(_label(x + 17, row_y + 1, shown, "start"))
        x += width
    return parts


def _label(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="12"'
        f' fill="{TEXT}">{escape(text)}</text>'
    )


def _short(amount: Decimal) -> str:
    value = float(amount)
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    if value != int(value) and abs(value) < 10:
        return f"{value:.1f}"
    return f"{value:.0f}"


def _svg(parts: Sequence[str], height: int, title: str) -> Markup:
    body = "".join(parts)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"'
        f' font-family="system-ui, sans-serif">{body}</svg>'
    )
