"""Named threshold presets: what an analyst settled on in Tune, for Explore, Detect and the CLI to reuse.

A preset is a threshold and, optionally, the isolation rule (t_iso, k, D), with where it was tuned
and how it scored there. Each is one JSON file under ``data/presets/`` written atomically, so two
analysts saving at once never corrupt each other's file; saving a name again replaces that preset.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd

from . import config
from .atomic import atomic_path
from .errors import N_, DetectorError, Message
from .rule import Rule

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


@dataclass(frozen=True)
class Preset:
    name: str
    threshold: float
    dual: bool = Rule.dual
    t_iso: float = Rule.t_iso
    k: int = Rule.k
    d_km: float = Rule.d_km
    min_valid: float = Rule.min_valid  # least share of a patch under imagery (presets saved before: 0)
    layer: str = ""  # the layer it was tuned on
    precision: float | None = None  # against the labels when saved
    recall: float | None = None
    labelled: int = 0  # labelled patches it was judged on
    author: str = ""
    note: str = ""
    saved_at: str = ""

    def rule(self) -> Rule:
        """The threshold and isolation rule, as Tune and Detect filter with them."""
        return Rule(self.threshold, self.dual, self.t_iso, self.k, self.d_km, self.min_valid)

    def apply(self, patches: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The patches this preset keeps."""
        return patches[self.rule().kept(patches)]

    def describe(self) -> Message:
        return self.rule().describe()


#: The rules Amazon Mining Watch's July 2026 rebuild uses (its methods notes): *relaxed* for a single
#: period's detections, *stringent* for cumulative mining since 2018. Always listed, never saved over.
BUILT_IN = (
    Preset("AMW relaxed", 0.43, True, 0.75, 5, 3.0, author="Amazon Mining Watch",
           note=N_("Amazon Mining Watch (July 2026 rebuild): the rule it recommends for a single period's detections.")),
    Preset("AMW stringent", 0.55, True, 0.8, 5, 3.0, author="Amazon Mining Watch",
           note=N_("Amazon Mining Watch (July 2026 rebuild): the rule of its cumulative layer, mining evidence since 2018.")),
)


def _folder(folder: Path | None = None) -> Path:
    return folder if folder is not None else config.layout().presets


def _file(name: str, folder: Path | None = None) -> Path:
    return _folder(folder) / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".json")


def check(preset: Preset) -> Preset:
    """The preset, or a DetectorError saying what to change."""
    if not _NAME.match(preset.name or ""):
        raise DetectorError("A preset name is 1–64 letters, digits, spaces, dots, dashes or underscores, starting with a "
                            "letter or digit; {preset_name!r} is not.",
                            preset_name=preset.name)
    preset.rule().check()
    return preset


def save(preset: Preset, folder: Path | None = None) -> Path:
    """Save (or replace) a preset; returns its file."""
    preset = check(preset)
    if any(b.name.lower() == preset.name.lower() for b in BUILT_IN):
        raise DetectorError("{preset_name!r} is a built-in preset ({preset_name} keeps its published values); save yours "
                            "under another name.",
                            preset_name=preset.name)
    data = asdict(preset)
    data["saved_at"] = data["saved_at"] or datetime.now(UTC).isoformat(timespec="seconds")
    data = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}
    path = _file(preset.name, folder)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _read(path: Path) -> Preset | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(Preset)}
        return check(Preset(**{k: v for k, v in raw.items() if k in known}))
    except (OSError, ValueError, TypeError, DetectorError):
        return None  # a foreign or damaged file is not a preset


def list_presets(folder: Path | None = None) -> list[Preset]:
    """The built-in presets (Amazon Mining Watch's), then every saved one by name."""
    folder = _folder(folder)
    found = (_read(p) for p in sorted(folder.glob("*.json"))) if folder.is_dir() else ()
    builtin = {b.name.lower() for b in BUILT_IN}
    saved = sorted((p for p in found if p is not None and p.name.lower() not in builtin), key=lambda p: p.name.lower())
    return [*BUILT_IN, *saved]


def load(name: str, folder: Path | None = None) -> Preset:
    """A preset by name; the error lists the saved ones."""
    saved = list_presets(folder)
    for p in saved:
        if p.name == name:
            return p
    names = ", ".join(p.name for p in saved)
    raise DetectorError("No threshold preset is called {name!r}. Saved presets: {names}.", name=name, names=names)
