"""Numbers and credits as the pages write them."""
from __future__ import annotations

import math
import re


def hectares(value: float, compact: bool = False) -> str:
    """Hectares for a figure: whole hectares from 100 up, one decimal below ("n/a" for a missing figure).

    ``compact`` writes ten thousand and more in thousands ("13.6k ha"), so a metric fits a narrow column.
    """
    if math.isnan(value):  # a layer without mined-area figures
        return "n/a"
    if compact and abs(value) >= 10_000:
        return f"{value / 1000:,.1f}k ha"
    return f"{value:,.0f} ha" if abs(value) >= 100 or value == 0 else f"{value:,.1f} ha"


def plain(html: str) -> str:
    """An HTML attribution as plain text, for captions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def slug(text: str, limit: int = 48) -> str:
    """A file-name-safe form of a region's name: "Yanomami (BR)" → "yanomami-br"."""
    import re
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-") or "region"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def sentence(text: str) -> str:
    """The text with its first letter in capitals (a translated label may start with a lower-case word)."""
    return text[:1].upper() + text[1:]
