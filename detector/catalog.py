"""The catalog of published Amazon Mining Watch data: names, public addresses, checksums, credits.

The files are named in ``detector/catalog.toml``. None is shipped with the project: each is read
from the mirror folder (DETECTOR_MIRROR) or downloaded once into ``data/downloads`` and checked
against its sha256, through :func:`detector.fetch.published_file`. Listing the catalog and asking
whether a file is here never downloads anything, so pages can show what is missing and carry on.
"""
from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .config import PROJECT_ROOT, mirror_dir
from .errors import DetectorError
from .fetch import local_copy, published_file

CATALOG_FILE = PROJECT_ROOT / "detector" / "catalog.toml"

#: What a dataset can be; the loaders in :mod:`detector.published` read the first three as layers.
LAYER_KINDS = ("yearly_layer", "patches", "dissolved")
KINDS = (*LAYER_KINDS, "boundary", "airstrips", "sampling", "gallery")


@dataclass(frozen=True)
class Dataset:
    """One published file and what a page must say about it."""

    name: str
    kind: str
    description: str
    mirror_path: str  # path inside the mirror folder
    original_path: str  # path in the published repository
    url: str
    sha256: str
    licence: str
    attribution: str
    period: str | None = None  # layers: "2018" … "2024", "2025Q2", "2025Q3"
    model: str | None = None  # patch and dissolved layers: the model that made them
    region: str | None = None  # patch and dissolved layers: the catalog boundary they cover
    label: str | None = None  # sampling points and guide images: "positive" (mines) or "negative"

    def available(self) -> bool:
        """Whether the file is here (mirror or download cache); never downloads, never hashes."""
        return local_copy(self.mirror_path) is not None

    def path(self, progress: bool = True) -> Path:
        """The verified file, downloaded on first use; a DetectorError says how to get it otherwise."""
        try:
            return published_file(self.mirror_path, self.url, self.sha256, progress=progress)
        except DetectorError as exc:
            hint = "" if mirror_dir() else (
                f" When online, `python -m detector data fetch {self.name}` downloads it into the data folder."
            )
            raise DetectorError("The published dataset {name!r} is not available: {exc}{hint}", name=self.name, exc=exc, hint=hint) from None


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Dataset], tuple[str, ...]]:
    data = tomllib.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    base = data["common"]["base_url"]
    licences = data["licences"]
    out = {}
    for name, d in data["datasets"].items():
        if d["kind"] not in KINDS:
            raise DetectorError("{catalog_file}: dataset {name} has unknown kind {d!r}.", catalog_file=CATALOG_FILE, name=name, d=d['kind'])
        lic = licences[d["licence"]]
        out[name] = Dataset(
            name=name,
            kind=d["kind"],
            description=d["description"],
            mirror_path=d["mirror"],
            original_path=d["path"],
            url=base + d["path"],
            sha256=d["sha256"],
            licence=lic["licence"],
            attribution=lic["attribution"],
            period=d.get("period"),
            model=d.get("model"),
            region=d.get("region"),
            label=d.get("label"),
        )
    return out, tuple(data["common"]["periods"])


def catalog() -> dict[str, Dataset]:
    """Every published dataset by name, in catalog order (yearly layers first, by period)."""
    return dict(_load()[0])


def periods() -> tuple[str, ...]:
    """The Amazon Mining Watch periods in time order: "2018" (baseline, mining up to 2018) … "2025Q3"."""
    return _load()[1]


def period_from_code(code: int | str) -> str:
    """The period of the layers' ``year`` property: 201800 → "2018", 202502 → "2025Q2"."""
    value = int(code)
    year, quarter = divmod(value, 100) if value > 9999 else (value, 0)
    return str(year) if quarter == 0 else f"{year}Q{quarter}"


def get(name: str) -> Dataset:
    """A dataset by name, with the list of names when it is unknown."""
    found = _load()[0].get(name)
    if found is None:
        raise DetectorError(
            "No published dataset is called {name!r}. `python -m detector data list` shows the names: "
            "{names}",
            name=name, names=", ".join(_load()[0])
        )
    return found


def by_kind(kind: str) -> list[Dataset]:
    """The datasets of one kind, in catalog order."""
    if kind not in KINDS:
        raise DetectorError("Unknown dataset kind {kind!r}; the kinds are {kinds}.", kind=kind, kinds=', '.join(KINDS))
    return [d for d in _load()[0].values() if d.kind == kind]


def yearly_layers() -> list[Dataset]:
    """The Amazon Mining Watch yearly (and quarterly) layers, in period order."""
    order = {p: i for i, p in enumerate(periods())}
    return sorted(by_kind("yearly_layer"), key=lambda d: order[d.period])


def is_available(name: str) -> bool:
    """Whether a dataset can be read without a download: pages use it to offer or hide a layer."""
    return get(name).available()


def attribution(name: str) -> str:
    """The credit line to show with a dataset."""
    return get(name).attribution


def fetch(names: Iterable[str] | None = None, progress: bool = True) -> dict[str, Path]:
    """Verified local paths of the named datasets (all when None), downloading what is missing.

    Every file is tried even when one fails; the error then lists each failure.
    """
    wanted = [get(n) for n in names] if names else list(_load()[0].values())
    paths: dict[str, Path] = {}
    failures = []
    for ds in wanted:
        try:
            paths[ds.name] = ds.path(progress=progress)
        except DetectorError as exc:
            failures.append(str(exc))
    if failures:
        raise DetectorError("{n_failures} of {n_wanted} datasets could not be fetched:\n  {failures}", n_failures=len(failures), n_wanted=len(wanted), failures="\n  ".join(failures))
    return paths
