"""The index of runs made from the dashboard, and reopening one from the score store alone.

A run is identified by what determines its scores: the region, the year, the model and the
imagery source. Running the same again replaces its record (with the new time), so the list
holds each distinct run once. Records are small JSON files under ``data/runs/``, each written
atomically; the scores themselves stay in the :class:`~detector.store.ScoreStore`.

Reopening reads the score store alone (:func:`detector.readback.read_region`): it never fetches
imagery and never loads the model, and says so when the store has lost some tiles.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from . import config, periods
from .atomic import atomic_path
from .errors import ImageryError
from .pipeline import DetectResult, RunSummary
from .readback import read_region
from .region import area_km2
from .store import ScoreStore


def run_id(region: BaseGeometry, year: int, model: str, source_key: str) -> str:
    """Same region, year, model and imagery: same id (and the same scores)."""
    h = hashlib.sha1(shapely.to_wkb(shapely.normalize(region), hex=True).encode())
    h.update(f"|{year}|{model}|{source_key}".encode())
    return h.hexdigest()[:12]


@dataclass
class RunRecord:
    """What the list of earlier runs shows, and what reopening one needs."""

    run_id: str
    when: str  # ISO 8601, UTC
    region_label: str
    region: dict  # GeoJSON geometry, EPSG:4326
    area_km2: float
    year: int  # the year the period starts in (records made before periods hold only this)
    model: str  # the model's name (the store's key)
    model_ref: str  # what resolves it again: a registered name or a file path
    source_key: str
    source_label: str
    patches: int
    summary: dict = field(default_factory=dict)
    period: str = ""  # the period's key ("2023", "2025Q2", "2024-03-01_2024-06-30"); "" in older records

    @property
    def the_period(self) -> periods.Period:
        return periods.of(self.period or self.year)

    @property
    def geometry(self) -> BaseGeometry:
        return shape(self.region)

    @classmethod
    def of(cls, result: DetectResult, region: BaseGeometry, region_label: str, model_ref: str,
           source_label: str) -> RunRecord:
        s = result.summary
        return cls(
            run_id=run_id(region, s.year, s.model, s.source),
            when=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            region_label=region_label, region=mapping(region), area_km2=round(area_km2(region), 3),
            year=periods.of(s.year).year, period=periods.of(s.year).key, model=s.model, model_ref=str(model_ref), source_key=s.source,
            source_label=source_label, patches=int(s.patches), summary=s.as_dict(),
        )


class RunIndex:
    """One JSON file per run under ``root`` (default ``data/runs``)."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else config.layout().runs

    def add(self, record: RunRecord) -> None:
        with atomic_path(self.root / f"{record.run_id}.json") as tmp:
            tmp.write_text(json.dumps(asdict(record)), encoding="utf-8")

    def get(self, rid: str) -> RunRecord | None:
        return _read(self.root / f"{Path(rid).name}.json")

    def remove(self, rid: str) -> bool:
        """Take a run off the list (its scores stay in the score store, shared with other runs); whether it was there."""
        path = self.root / f"{Path(rid).name}.json"
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self) -> list[RunRecord]:
        """Every readable record, newest first (a torn or foreign file is skipped, not fatal)."""
        found = (_read(p) for p in self.root.glob("*.json")) if self.root.is_dir() else ()
        return sorted((r for r in found if r is not None), key=lambda r: r.when, reverse=True)

    def version(self) -> int:
        """Changes whenever a record is added or replaced (the folder's modification time)."""
        return self.root.stat().st_mtime_ns if self.root.is_dir() else 0


def _read(path: Path) -> RunRecord | None:
    try:
        return RunRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def reopen(record: RunRecord, store: ScoreStore) -> DetectResult:
    """An earlier run's result, from the store only (no imagery, no model)."""
    back = read_region(store, record.source_key, record.model, record.the_period, record.geometry, geometry=False)
    if back.missing:
        raise ImageryError(
            "{n_back_missing} of this run's {back_tiles} tiles are no longer in the score store "
            "({store_url}). Run it again to score them anew.",
            n_back_missing=len(back.missing), back_tiles=back.tiles, store_url=store.url
        )
    summary = RunSummary(model=record.model, year=record.the_period, source=record.source_key, tiles=back.tiles,
                         tiles_from_store=back.tiles, patches=len(back.patches), from_store=len(back.patches),
                         not_covered=back.not_covered, seconds=back.seconds)
    members = [c for c in back.patches.columns if c.startswith("member_")]
    return DetectResult(back.patches, summary, members)


def describe(record: RunRecord) -> dict[str, Any]:
    """A row of the earlier-runs table."""
    return {
        "region": record.region_label, "km²": record.area_km2, "period": record.the_period.label, "model": record.model,
        "imagery": record.source_label, "when (UTC)": record.when.replace("T", " ")[:16],
        "patches": record.patches,
    }
