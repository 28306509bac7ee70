"""The daily report as one self-contained HTML page (inline CSS and SVG charts) plus CSV extracts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pandas as pd

from reports import charts
from reports.data import TRENDS_PER_REGION, ReportData

TEMPLATES = Path(__file__).parent / "templates"
# ISO 4217 minor units where they are not 2 (the marts keep money in minor units).
MINOR_UNIT_EXPONENT = {"JPY": 0, "KRW": 0}


@dataclass(frozen=True)
class Kpi:
    """One headline figure: today's value, the day before, and how to show them."""

    key: str
    label: str
    kind: str  # "int", "rate", "seconds", "usd_cents"
    higher_is_better: bool = True


HEADLINE = (
    Kpi("events", "Events", "int"),
    Kpi("downloads_started", "Downloads started", "int"),
    Kpi("download_success_rate", "Download success rate", "rate"),
    Kpi("streams_started", "Streams started", "int"),
    Kpi("purchases", "Purchases", "int"),
    Kpi("list_value_usd_cents", "Purchases at list price (USD)", "usd_cents"),
    Kpi("active_items", "Items with activity", "int"),
    Kpi("user_minutes", "User-minutes", "int"),
    Kpi("cdn_availability", "CDN availability", "rate"),
    Kpi("cdn_anomalies", "CDN anomalies", "int", higher_is_better=False),
    Kpi("mttd_s", "Mean time to detect", "seconds", higher_is_better=False),
    Kpi("late_events", "Late events (not counted)", "int", higher_is_better=False),
)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt(value: object, kind: str) -> str:
    """A figure as a person reads it; an em dash when there is none."""
    if _missing(value):
        return "—"
    if kind == "rate":
        return f"{float(value):.2%}"
    if kind == "seconds":
        return f"{float(value):,.0f} s"
    if kind == "usd_cents":
        return f"${int(value) / 100:,.2f}"
    if kind == "float":
        return f"{float(value):,.1f}"
    return f"{int(value):,}"


def money(minor: int, currency: str) -> str:
    """Minor units in the currency's major unit, e.g. 129900 JPY -> '129,900 JPY', 12345 EUR -> '123.45 EUR'."""
    exponent = MINOR_UNIT_EXPONENT.get(currency, 2)
    return f"{minor / 10**exponent:,.{exponent}f} {currency}"


def change(today: object, previous: object, kind: str) -> str:
    """Change against the previous day: points for rates, per cent otherwise."""
    if _missing(today) or _missing(previous):
        return ""
    if kind == "rate":
        return f"{(float(today) - float(previous)) * 100:+.2f} pt"
    if float(previous) == 0:
        return "new" if float(today) else "±0"
    return f"{(float(today) - float(previous)) / float(previous):+.1%}"


def _tone(today: object, previous: object, kpi: Kpi) -> str:
    if _missing(today) or _missing(previous) or float(today) == float(previous):
        return "flat"
    up = float(today) > float(previous)
    return "good" if up == kpi.higher_is_better else "bad"


def headline(data: ReportData) -> list[dict]:
    today, previous = data.today, data.previous
    cards = []
    for kpi in HEADLINE:
        value = None if today is None else today[kpi.key]
        prev = None if previous is None else previous[kpi.key]
        cards.append(
            {
                "key": kpi.key,
                "label": kpi.label,
                "value": fmt(value, kpi.kind),
                "raw": "" if _missing(value) else value,
                "previous": fmt(prev, kpi.kind),
                "change": change(value, prev, kpi.kind) if previous is not None else "no previous day",
                "tone": _tone(value, prev, kpi),
            }
        )
    return cards


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if _missing(v) else v) for k, v in row.items()} for row in df.to_dict("records")]


def render_html(data: ReportData, generated_at: datetime | None = None) -> str:
    """The report page for one day."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(["html", "j2"])
    )
    env.filters["fmt"] = fmt
    env.filters["money"] = money
    trends = data.regional_trends[data.regional_trends["rank_no"] <= TRENDS_PER_REGION]
    hours = pd.to_datetime(data.hourly["hour_start"], utc=True) if len(data.hourly) else pd.Series([], dtype=object)
    return env.get_template("report.html.j2").render(
        day=data.day,
        generated_at=(generated_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
        empty=data.empty,
        first_hour=hours.min().strftime("%H:00") if len(hours) else None,
        last_hour=hours.max().strftime("%H:59") if len(hours) else None,
        hours_with_data=int(hours.nunique()) if len(hours) else 0,
        cards=headline(data),
        movers=_records(data.top_movers),
        trend_regions=[(region, _records(rows)) for region, rows in trends.groupby("region", sort=False)],
        cdn=_records(data.cdn_sla),
        cdn_missed=_records(data.cdn_sla[~data.cdn_sla["slo_met"].astype(bool)]) if len(data.cdn_sla) else [],
        revenue=_records(
            data.revenue.groupby(["region", "currency"], as_index=False)[["purchases", "revenue_minor"]].sum()
        ),
        objective=(
            None
            if data.cdn_sla.empty
            else {
                "availability": float(data.cdn_sla["availability_objective"].iloc[0]),
                "ttfb_ms": float(data.cdn_sla["ttfb_p95_objective_ms"].iloc[0]),
            }
        ),
        chart_hourly=charts.to_svg(charts.hourly_events(data.hourly)),
        chart_movers=charts.to_svg(charts.top_movers(data.top_movers)),
        chart_cdn=charts.to_svg(charts.cdn_availability(data.cdn_sla)),
        chart_revenue=charts.to_svg(charts.revenue_by_type(data.revenue)),
    )


EXTRACTS = {
    "kpis.csv": "kpis",
    "hourly.csv": "hourly",
    "top_movers.csv": "top_movers",
    "regional_trends.csv": "regional_trends",
    "cdn_sla.csv": "cdn_sla",
    "revenue.csv": "revenue",
}


def write_report(data: ReportData, reports_dir: Path, generated_at: datetime | None = None) -> list[Path]:
    """Write `<reports_dir>/YYYY-MM-DD/report.html` and the CSV extracts; returns the files written.

    Files are written under a temporary name and renamed, so a reader never sees half a report.
    """
    folder = reports_dir / data.day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {"report.html": render_html(data, generated_at)}
    for name, attr in EXTRACTS.items():
        outputs[name] = getattr(data, attr).to_csv(index=False)
    written = []
    for name, text in outputs.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)
        written.append(folder / name)
    return written
