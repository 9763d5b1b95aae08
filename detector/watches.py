"""Watches: a region kept under watch with its model, imagery and rule, and a report per period.

``python -m detector watch run`` scores the newest complete period of every watch (and the one
before it, so "new" means new since the previous period) and writes, per watch and period, under
``data/watches/<name>/<period>/``: ``new.geojson`` and ``new.csv`` (the detections new since the
previous period) and ``report.html``, one page with a map image and the per-period chart. Scores
come from the store where they are there, so a watch run again for the same period computes
nothing and writes the same files. Scheduling is the user's (cron, a CI job: see README).
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shapely.geometry import mapping, shape

from . import periods
from .atomic import atomic_path
from .errors import DetectorError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
CADENCES = ("quarter", "year")


@dataclass(frozen=True)
class Watch:
    name: str
    region: dict  # GeoJSON geometry, lon/lat
    source: str = "earthengine"  # as --source takes it
    model: str = ""  # registered name or file; "" = the default model
    preset: str = "AMW relaxed"  # the rule, by preset name
    cadence: str = "quarter"
    region_label: str = ""
    created: str = ""

    @property
    def geometry(self):
        return shape(self.region)

    @property
    def folder_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.name)


def check(w: Watch) -> Watch:
    if not _NAME.match(w.name or ""):
        raise DetectorError("A watch name is 1–64 letters, digits, spaces, dots, dashes or underscores, starting with a "
                            "letter or digit; {w_name!r} is not.",
                            w_name=w.name)
    if w.cadence not in CADENCES:
        raise DetectorError("A watch runs each quarter or each year, not {w_cadence!r}.", w_cadence=w.cadence)
    return w


def newest_complete(cadence: str, today: _dt.date | None = None) -> periods.Period:
    """The last quarter (or year) that ended before today."""
    today = today or _dt.date.today()
    if cadence == "year":
        return periods.year(today.year - 1)
    q = (today.month - 1) // 3 + 1
    return periods.quarter(today.year, q - 1) if q > 1 else periods.quarter(today.year - 1, 4)


def previous(period: periods.Period) -> periods.Period:
    """The period of the same kind just before (a year's, a quarter's)."""
    if period.kind == "year":
        return periods.year(period.year - 1)
    if period.kind == "quarter":
        q = int(period.key[-1])
        return periods.quarter(period.year, q - 1) if q > 1 else periods.quarter(period.year - 1, 4)
    raise DetectorError("Watches follow years or quarters, not date ranges.")


@dataclass
class WatchStore:
    """One JSON file per watch under ``root`` (``data/watches``), reports in a folder beside it."""

    root: Path
    _cache: dict = field(default_factory=dict)

    def _file(self, name: str) -> Path:
        return self.root / f"{Watch(name, {}).folder_name}.json"

    def save(self, w: Watch) -> Path:
        w = check(w)
        data = asdict(w)
        data["created"] = data["created"] or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        path = self._file(w.name)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    def list(self) -> list[Watch]:
        out = []
        for p in sorted(self.root.glob("*.json")) if self.root.is_dir() else ():
            try:
                out.append(check(Watch(**json.loads(p.read_text(encoding="utf-8")))))
            except (OSError, ValueError, TypeError, DetectorError):
                continue  # a foreign or damaged file is not a watch
        return sorted(out, key=lambda w: w.name.lower())

    def get(self, name: str) -> Watch:
        for w in self.list():
            if w.name == name:
                return w
        names = ", ".join(w.name for w in self.list()) or "none yet (add one with `watch add` or on the Change page)"
        raise DetectorError("No watch is called {name!r}. Watches: {names}.", name=name, names=names)

    def delete(self, name: str) -> None:
        self._file(self.get(name).name).unlink(missing_ok=True)

    def report_dir(self, w: Watch, period: periods.Period) -> Path:
        return self.root / w.folder_name / period.key

    def latest_report(self, w: Watch) -> dict | None:
        """The newest report's figures (summary.json), or None before the first run."""
        folder = self.root / w.folder_name
        found = sorted(folder.glob("*/summary.json"), key=lambda p: periods.parse(p.parent.name)) if folder.is_dir() else []
        if not found:
            return None
        try:
            return json.loads(found[-1].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None


def watch_of(name: str, region_geom, source: str, model: str, preset: str, cadence: str = "quarter",
             region_label: str = "") -> Watch:
    return check(Watch(name, mapping(region_geom), source, model, preset, cadence, region_label or name))
