"""Limits every service applies alike: how far ahead a calendar may be looked at or planned, and how long a range
one question may cover. One constant each, so the gateway's early checks and the scheduler's agree."""

from __future__ import annotations

# How far ahead clients may search and staff may look or plan; also the longest booking horizon a type may have.
# Nobody books a counselling appointment years ahead; the bound also keeps date arithmetic far from date.max.
HORIZON_DAYS = 366
# The longest range of days one slot search or staff question may cover.
MAX_RANGE_DAYS = 90
