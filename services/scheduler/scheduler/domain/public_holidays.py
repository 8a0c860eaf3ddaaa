"""Public holidays of Mecklenburg-Vorpommern (from the `holidays` package), looked up once per year.

MV has, besides the national days, International Women's Day (8 March, since 2023) and Reformation Day
(31 October); the package knows them.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

COUNTRY = "DE"
SUBDIVISION = "MV"


@lru_cache(maxsize=64)
def public_holidays(year: int, country: str = COUNTRY, subdivision: str = SUBDIVISION) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def is_public_holiday(day: date) -> bool:
    return day in public_holidays(day.year)
