"""Public holidays of a country (and region) from the `holidays` library, offered as closures:
listed for a range of days so staff review them, then the ones they keep added, all at once.

The library is imported when first used (about 0.1 s): the app's start-up and every other
command do not pay for it.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from models import ClosureKind, User
from services.closures import ClosureOutcome, add_closure
from services.common.errors import ValidationError
from services.school_year import ClosureData, list_closures

# A range longer than this is a typo (a school year is about 310 days).
LONGEST_RANGE = timedelta(days=731)


@dataclass(frozen=True)
class Region:
    code: str
    name: str


@dataclass(frozen=True)
class PublicHoliday:
    day: date
    name: str
    # A whole-school closure already covering the day: adding it again would change nothing.
    closed_by: str | None = None


def _tab(name: str) -> list[list[str]]:
    """A tab of the IANA time zone database (tzdata, a dependency already) without comments."""
    text = importlib.resources.files("tzdata.zoneinfo").joinpath(name).read_text("utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def countries() -> dict[str, str]:
    """The countries the library knows, by ISO code, named as ISO 3166 names them, by name."""
    import holidays

    names = {row[0]: row[1] for row in _tab("iso3166.tab")}
    supported = holidays.list_supported_countries()
    found = {code: names.get(code, code) for code in supported}
    return dict(sorted(found.items(), key=lambda item: item[1]))


def regions(country: str) -> list[Region]:
    """A country's regions (subdivisions) the library knows, by name; [] for none."""
    import holidays

    if country not in countries():
        return []
    calendar = holidays.country_holidays(country)
    named = {code: name for name, code in getattr(calendar, "subdivisions_aliases", {}).items()}
    return sorted(
        (Region(code, named.get(code, code)) for code in calendar.subdivisions),
        key=lambda r: r.name,
    )


@cache
def country_of_zone(zone: str) -> str | None:
    """The country of an IANA zone ("Europe/Paris" -> "FR"), the organisation's by default."""
    for row in _tab("zone.tab"):
        if len(row) >= 3 and row[2] == zone:
            return row[0]
    return None


def _check(country: str, region: str | None, first: date | None, last: date | None) -> None:
    errors: dict[str, str] = {}
    if country not in countries():
        errors["country"] = "Choose a country from the list."
    elif region and region not in {r.code for r in regions(country)}:
        errors["region"] = "Choose one of this country's regions, or none."
    if first is None:
        errors["first_day"] = "Enter the first day (YYYY-MM-DD)."
    if last is None:
        errors["last_day"] = "Enter the last day (YYYY-MM-DD)."
    elif first is not None:
        if last < first:
            errors["last_day"] = "The last day cannot be before the first day."
        elif last - first > LONGEST_RANGE:
            errors["last_day"] = f"Choose at most {LONGEST_RANGE.days} days at a time."
    if errors:
        raise ValidationError(errors)


def public_holidays(
    country: str, region: str | None, first: date | None, last: date | None
) -> list[PublicHoliday]:
    """The country's (and region's) public holidays from `first` to `last`, both included, by
    day; each says whether a whole-school closure already covers it."""
    import holidays

    _check(country, region, first, last)
    calendar = holidays.country_holidays(
        country, subdiv=region or None, years=range(first.year, last.year + 1)
    )
    closures = [c for c in list_closures(first, last) if c.whole_school]
    found = []
    for day, name in sorted(calendar.items()):
        if first <= day <= last:
            covering = next((c.name for c in closures if c.covers(day)), None)
            found.append(PublicHoliday(day, name, covering))
    return found


def add_public_holidays(
    country: str,
    region: str | None,
    first: date | None,
    last: date | None,
    chosen: list[date],
    *,
    actor: User | None,
    tz: ZoneInfo,
) -> list[ClosureOutcome]:
    """Add the chosen public holidays as whole-school holiday closures (one per day), each
    cancelling the sessions on its day. Only days the library gives for this country, region
    and range are accepted: a changed or forged day is refused, and nothing is added."""
    offered = {h.day: h for h in public_holidays(country, region, first, last)}
    if not chosen:
        raise ValidationError("Tick the holidays to add.", field="days")
    unknown = sorted(set(chosen) - offered.keys())
    if unknown:
        listed = ", ".join(f"{d:%a %d %b %Y}" for d in unknown[:5])
        raise ValidationError(
            f"Not a public holiday of this country and range: {listed}.", field="days"
        )
    outcomes = []
    for day in sorted(set(chosen)):
        holiday = offered[day]
        if holiday.closed_by is None:
            data = ClosureData(holiday.name, day, day, ClosureKind.HOLIDAY)
            outcomes.append(add_closure(data, actor=actor, tz=tz))
    return outcomes
