"""Numbers and credits as the pages write them."""
from __future__ import annotations

import math
import re

from detector.trends import BASELINE

from .i18n import _, number


def hectares(value: float, compact: bool = False) -> str:
    """Hectares for a figure: whole hectares from 100 up, one decimal below ("n/a" for a missing figure).

    ``compact`` writes ten thousand and more in thousands ("13.6k ha"), so a metric fits a narrow column.
    """
    if math.isnan(value):  # a layer without mined-area figures
        return _("n/a")
    if compact and abs(value) >= 10_000:
        return _("{thousands:,.1f}k ha").format(thousands=value / 1000)
    return number(value, ",.0f" if abs(value) >= 100 or value == 0 else ",.1f") + " ha"


def whole_hectares(value: float) -> str:
    """Whole hectares, always (the headline figures of Trends and Change)."""
    return number(value, ",.0f") + " ha"


def plain(html: str) -> str:
    """An HTML attribution as plain text, for captions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def slug(text: str, limit: int = 48) -> str:
    """A file-name-safe form of a region's name: "Yanomami (BR)" → "yanomami-br"."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-") or "region"


_QUARTER = re.compile(r"^(\d{4}) ?Q([1-4])$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})$")


def period_label(period) -> str:
    """A period as the visitor reads it: "2023", "2025 Q2" (PT/ES "2025 T2"), "≤2018 (baseline)", a date range.

    Takes a :class:`detector.periods.Period`, a key ("2025Q2", "2018", "2024-03-01_2024-06-30") or a
    label already written in English ("2025 Q2", "≤2018 (baseline)"); a published period key equal to
    the baseline reads as the baseline (a Period of that year is just the year).
    """
    if hasattr(period, "kind"):  # a detector.periods.Period
        if period.kind == "year":
            return period.key
        period = period.key
    p = str(period)
    if p in (BASELINE, f"≤{BASELINE} (baseline)"):
        return _("≤{year} (baseline)").format(year=BASELINE)
    if m := _QUARTER.match(p):
        return _("{year} Q{quarter}").format(year=m[1], quarter=m[2])
    if m := _RANGE.match(p):
        return f"{m[1]} – {m[2]}"
    return p


def sentence(text: str) -> str:
    """The text with its first letter in capitals (a translated label may start with a lower-case word)."""
    return text[:1].upper() + text[1:]
