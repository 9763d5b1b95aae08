"""Labelled points → the grid patches they label → those patches' windows, and a split held out by geography.

Each point is snapped to the grid patch whose centre is nearest, so a model learns on exactly the
windows Detect will show it. Windows are read tile by tile from the imagery source (each tile once)
and cached under data/training/, so a second training run on the same labels reads no imagery.
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config, grid
from .atomic import atomic_path
from .errors import DetectorError
from .labels import LabelStore
from .sampling import read_points, sampling_answer, sampling_path
from .sources import ImagerySource, PixelCache, TilePixels, cached, storage_key


@dataclass
@dataclass
class Points:
    """Labelled points: lon, lat, y (1 mine, 0 not), origin (the file or store they came from)."""

    frame: pd.DataFrame
    origins: list[str] = field(default_factory=list)


@dataclass
class Samples:
    """One row per labelled grid patch: patch_id, epsg, row, col, y; and what was merged or dropped."""

    frame: pd.DataFrame
    points: int = 0
    duplicates: int = 0  # points on a patch another point with the same answer already labels
    conflicts: int = 0  # patches labelled both mine and not a mine (left out)


@dataclass
class Dataset:
    """Raw DN windows (N, 48, 48, bands) of the covered samples, in the samples' order."""

    windows: np.ndarray
    patch_ids: np.ndarray
    covered: np.ndarray  # per sample of the Samples frame
    bands: tuple[str, ...]
    from_cache: bool = False
    tiles: int = 0



# ---------------------------------------------------------------- labelled points

def _read(path: Path, y: int, origin: str) -> pd.DataFrame:
    pts = read_points(path)
    return pd.DataFrame({"lon": pts.geometry.x.to_numpy(float), "lat": pts.geometry.y.to_numpy(float),
                         "y": np.full(len(pts), y, dtype=np.int8), "origin": origin})


def _answer(path: Path) -> int:
    return 1 if sampling_answer(path.name)[0] == "yes" else 0


def _store_points(url: str | None) -> tuple[pd.DataFrame, str]:
    """The label store's current labels, through the very export the Review page offers."""
    store = LabelStore(url)
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        res = store.export(tmp)
        for path in res.files.values():
            frames.append(_read(path, _answer(path), f"label store: {path.name}"))
    return pd.concat(frames, ignore_index=True), repr(store)


def _read_folder(folder: Path, shown: str | None = None) -> list[pd.DataFrame]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".geojson", ".json"} and p.is_file())
    if not files:
        raise DetectorError("{value} holds no .geojson files. Give the folder written by `python -m detector labels "
                            "export --out DIR`, or the Review page's labels.zip.",
                            value=shown or folder)
    return [_read(f, _answer(f), f.name) for f in files]


def load_points(labels: Sequence[str] = (), positives: Sequence[str] = (), negatives: Sequence[str] = ()) -> Points:
    """Every labelled point from the given sources.

    ``labels``: a folder written by ``labels export`` (or the Review page's labels.zip), a single
    sampling file (its name says positives or negatives), ``store`` for the label store (or a
    database URL), or a published sampling dataset name. ``positives`` / ``negatives``: point
    files whose every point is (not) a mine, whatever the file is called.
    """
    frames, origins = [], []
    for arg in labels:
        arg = str(arg)
        if arg in {"store", "db", "database"} or "://" in arg:
            df, what = _store_points(None if "://" not in arg else arg)
            frames.append(df)
            origins.append(what)
            continue
        path = Path(arg).expanduser()
        if path.is_dir():
            frames.extend(_read_folder(path))
            origins.append(str(path))
            continue
        if path.suffix.lower() == ".zip" and path.is_file():  # the Review page's download, as it is
            import zipfile

            with tempfile.TemporaryDirectory() as tmp:
                try:
                    with zipfile.ZipFile(path) as z:
                        z.extractall(tmp)
                except zipfile.BadZipFile as exc:
                    raise DetectorError("{path} is not a readable zip file ({exc}).", path=path, exc=exc) from None
                frames.extend(_read_folder(Path(tmp), path.name))
            origins.append(str(path))
            continue
        f = sampling_path(arg, "training")
        frames.append(_read(f, _answer(f), f.name))
        origins.append(str(f))
    for args, y in ((positives, 1), (negatives, 0)):
        for arg in args:
            f = sampling_path(str(arg), "training")
            frames.append(_read(f, y, f.name))
            origins.append(f"{f} ({'mines' if y else 'not mines'})")
    if not frames:
        raise DetectorError("No labels given. Use --labels DIR (from `python -m detector labels export` or the Review "
                            "page), --labels store, or --positives FILE … --negatives FILE ….")
    return Points(pd.concat(frames, ignore_index=True), origins)


def check_classes(y: np.ndarray, where: str) -> None:
    mines, nots = int((y == 1).sum()), int((y == 0).sum())
    if mines == 0 or nots == 0:
        have = f"{mines} mine{'s' * (mines != 1)}" if mines else f"{nots} non-mine{'s' * (nots != 1)}"
        lack = "no mines (positives)" if not mines else "no non-mines (negatives: look-alikes, forest)"
        raise DetectorError(
            "The labels {where} hold {have} and {lack}; a model learns to tell the two apart, so it "
            "needs both. Label some of the missing kind on the Review page (or add --positives / "
            "--negatives files).",
            where=where, have=have, lack=lack
        )


# ---------------------------------------------------------------- points onto the grid

def snap(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """The grid patch whose centre is nearest each point, in the point's UTM zone: epsg, row, col, patch_id."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    epsg = np.array([grid.zone_epsg(grid.utm_zone(x)) for x in lon], dtype=np.int64)
    row = np.zeros(len(lon), dtype=np.int64)
    col = np.zeros(len(lon), dtype=np.int64)
    for e in np.unique(epsg):
        sel = epsg == e
        x, y = grid._to_utm(int(e)).transform(lon[sel], lat[sel])
        col[sel] = np.round((np.asarray(x) - grid.PATCH_M / 2) / grid.STRIDE_M).astype(np.int64)
        row[sel] = np.round((np.asarray(y) - grid.PATCH_M / 2) / grid.STRIDE_M).astype(np.int64)
    ids = [grid.patch_id(int(e), int(r), int(c)) for e, r, c in zip(epsg, row, col)]
    return pd.DataFrame({"patch_id": ids, "epsg": epsg, "row": row, "col": col})


def to_samples(points: Points) -> Samples:
    """One sample per labelled patch; a patch labelled both ways is left out (and counted)."""
    pts = points.frame
    if pts.empty:
        raise DetectorError("The label files hold no points.")
    snapped = pd.concat([snap(pts["lon"], pts["lat"]), pts[["y", "origin"]].reset_index(drop=True)], axis=1)
    answers = snapped.groupby("patch_id")["y"].agg(["min", "max"])
    conflicted = answers.index[answers["min"] != answers["max"]]
    kept = snapped[~snapped["patch_id"].isin(conflicted)]
    uniq = kept.drop_duplicates("patch_id").sort_values(["epsg", "row", "col"]).reset_index(drop=True)
    return Samples(uniq[["patch_id", "epsg", "row", "col", "y", "origin"]], points=len(pts),
                   duplicates=len(kept) - len(uniq), conflicts=len(conflicted))


# ---------------------------------------------------------------- patch windows from the imagery

def _dataset_path(source_key: str, year: int, bands: Sequence[str], patch_ids: Sequence[str]) -> Path:
    h = hashlib.sha256(json.dumps([source_key, int(year), list(bands), sorted(patch_ids)]).encode()).hexdigest()
    return config.layout().training / f"windows-{h[:24]}.npz"


def _cached(path: Path, ids: np.ndarray, bands: tuple[str, ...]) -> Dataset | None:
    """The windows of an earlier run on the same patches, source, year and bands; None on a miss."""
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            cached = dict(z)
    except Exception:  # noqa: BLE001 — a torn or foreign cache file is a miss, not a failure
        return None
    order = pd.Index(cached["patch_ids"].astype(str))
    if set(order) != set(ids) or tuple(cached["bands"].astype(str)) != bands:
        return None
    pos = order.get_indexer(ids)
    cov = cached["covered"][pos]
    row_of = np.cumsum(cached["covered"]) - 1
    return Dataset(cached["windows"][row_of[pos[cov]]], ids[cov], cov, bands, from_cache=True)


def _outside_footprint(source: ImagerySource, samples: pd.DataFrame) -> np.ndarray:
    """Samples whose patch centre is outside the source's outline (sources that know theirs), else none."""
    footprint = getattr(source, "footprint", None)
    if footprint is None or samples.empty:
        return np.zeros(len(samples), dtype=bool)
    import shapely

    out = np.zeros(len(samples), dtype=bool)
    fp = footprint()
    for e, rows in samples.groupby("epsg"):
        lon, lat = grid.patch_centers_lonlat(int(e), rows["row"].to_numpy(), rows["col"].to_numpy())
        out[samples.index.get_indexer(rows.index)] = ~shapely.contains_xy(fp, lon, lat)
    return out


def _no_imagery(source: ImagerySource, samples: pd.DataFrame, label: str) -> DetectorError:
    lon, lat = [], []
    for e, rows in samples.groupby("epsg"):
        x, y = grid.patch_centers_lonlat(int(e), rows["row"].to_numpy(), rows["col"].to_numpy())
        lon.extend(x)
        lat.extend(y)
    box = dict(w=min(lon), e=max(lon), s=min(lat), n=max(lat))
    footprint = getattr(source, "footprint", None)
    if footprint is None:
        return DetectorError(
            "None of the {count:,} labelled patches has imagery in {label} (the points span lon {w:.3f}…{e:.3f}, "
            "lat {s:.3f}…{n:.3f}). Give labels inside the image, or the imagery of the labels (--source), or "
            "another --year.", count=len(samples), label=label, **box)
    w, s, e, n = footprint().bounds
    return DetectorError(
        "None of the {count:,} labelled patches has imagery in {label} (the points span lon {w:.3f}…{e:.3f}, "
        "lat {s:.3f}…{n:.3f}; the imagery covers lon {iw:.3f}…{ie:.3f}, lat {is_:.3f}…{in_:.3f}). Give labels "
        "inside the image, or the imagery of the labels (--source), or another --year.",
        count=len(samples), label=label, **box, iw=w, ie=e, is_=s, in_=n)


def build_dataset(samples: pd.DataFrame, source: ImagerySource, year: int, bands: Sequence[str],
                  source_label: str = "the imagery", quiet: bool = True) -> Dataset:
    """The 48 × 48 window of every sample patch, read once per tile; cached on disk by source, year, bands, patches.

    Patches the imagery does not fully cover (outside the image, clouds, nodata) are marked
    uncovered and skipped, as Detect skips them.
    """
    from tqdm import tqdm

    from .pipeline import covered, patch_windows

    bands = tuple(bands)
    ids = samples["patch_id"].to_numpy(str)
    path = _dataset_path(storage_key(source, year), year, bands, ids)
    hit = _cached(path, ids, bands)
    if hit is not None:
        return hit

    outside = _outside_footprint(source, samples)
    if outside.all():
        raise _no_imagery(source, samples, source_label)
    inside = samples[~outside]
    from shapely.geometry import MultiPoint

    lon, lat = [], []
    for e, rows in inside.groupby("epsg"):
        x, y = grid.patch_centers_lonlat(int(e), rows["row"].to_numpy(), rows["col"].to_numpy())
        lon.extend(x)
        lat.extend(y)
    source.check(MultiPoint(list(zip(lon, lat))).envelope.buffer(0.005), bands, year)

    tile_of = {}
    for i, (e, r, c) in enumerate(zip(inside["epsg"], inside["row"], inside["col"])):
        tile_of.setdefault(grid.Tile(int(e), int(r) // grid.TILE, int(c) // grid.TILE), []).append(i)
    imagery = cached(source, PixelCache(config.layout().pixels))  # as Detect reads it
    cov = np.zeros(len(samples), dtype=bool)
    windows = np.zeros((len(samples), grid.PATCH_PX, grid.PATCH_PX, len(bands)), dtype=np.float32)
    where = np.flatnonzero(~outside)

    def read(tile: grid.Tile) -> TilePixels:
        return imagery.read(tile, bands, year)

    def take(tile: grid.Tile, tp: TilePixels) -> None:
        local = np.asarray(tile_of[tile])
        rows, cols = inside["row"].to_numpy()[local], inside["col"].to_numpy()[local]
        ok = covered(tp.valid, tile, rows, cols)
        idx = where[local[ok]]
        if ok.any():
            windows[idx] = patch_windows(tp.select(bands), tile, rows[ok], cols[ok])
        cov[idx] = True

    tiles = sorted(tile_of)
    workers = max(1, min(source.max_concurrency, 8))
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(tiles), unit="tile", desc="reading patches", disable=quiet) as bar:
        # a few tiles in flight at a time: a tile's raster is tens of MB, only its windows are kept
        for first in range(0, len(tiles), 2 * workers):
            chunk = tiles[first:first + 2 * workers]
            for tile, tp in zip(chunk, pool.map(read, chunk)):
                take(tile, tp)
                bar.update(1)
    if not cov.any():
        raise _no_imagery(source, samples, source_label)
    ds = Dataset(windows[cov], ids[cov], cov, bands, tiles=len(tiles))
    with atomic_path(path) as tmp:
        np.savez(tmp, windows=ds.windows, patch_ids=ids, covered=cov, bands=np.array(bands))
    return ds


# ---------------------------------------------------------------- the split by geography

def spatial_split(frame: pd.DataFrame, block_km: float, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Which samples validate and which train: whole ``block_km`` blocks of the grid go to validation.

    Blocks are squares of each UTM zone's grid; a seeded shuffle of them fills validation up to
    ``val_fraction`` of the samples, so neighbouring patches — which share pixels and look alike —
    never sit on both sides. Training patches that still overlap a validation patch across a block
    edge are left out. The first shuffle giving both classes on both sides is taken (deterministic).
    Returns (validation mask, training mask, facts for the report).
    """
    if not 0 < val_fraction < 1:
        raise DetectorError("--val-fraction must be between 0 and 1 (not {val_fraction:g}); e.g. 0.25.", val_fraction=val_fraction)
    if block_km <= 0:
        raise DetectorError("--block-km must be positive (not {block_km:g}); e.g. 5.", block_km=block_km)
    e = frame["epsg"].to_numpy()
    r, c = frame["row"].to_numpy(), frame["col"].to_numpy()
    y = frame["y"].to_numpy()
    size = block_km * 1000.0
    bx = np.floor((c * grid.STRIDE_M + grid.PATCH_M / 2) / size).astype(np.int64)
    by = np.floor((r * grid.STRIDE_M + grid.PATCH_M / 2) / size).astype(np.int64)
    keys = pd.Series(list(zip(e, bx, by)))
    blocks = sorted(set(keys))
    if len(blocks) < 2:
        raise DetectorError("All {n_frame} labelled patches lie in one {block_km:g} km block, so none can be held out by "
                            "geography. Use a smaller --block-km, or add labels from elsewhere.",
                            n_frame=len(frame), block_km=block_km)
    block_of = keys.map({b: i for i, b in enumerate(blocks)}).to_numpy()
    counts = np.bincount(block_of, minlength=len(blocks))
    target = max(1, round(val_fraction * len(frame)))
    rng = np.random.default_rng(seed)
    for attempt in range(500):
        order = rng.permutation(len(blocks))
        chosen, n = [], 0
        for b in order:
            if n >= target:
                break
            chosen.append(b)
            n += counts[b]
        val = np.isin(block_of, chosen)
        near = {(pe, pr + dr, pc + dc) for pe, pr, pc in zip(e[val], r[val], c[val])
                for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
        overlap = np.array([k in near for k in zip(e, r, c)]) & ~val
        train = ~val & ~overlap
        if val.all() or not train.any():
            continue
        if len(set(y[val])) == 2 and len(set(y[train])) == 2:
            facts = {"block_km": block_km, "seed": seed, "val_fraction": val_fraction, "attempts": attempt + 1,
                     "blocks": len(blocks), "validation_blocks": len(chosen), "train_blocks": len(blocks) - len(chosen),
                     "train": int(train.sum()), "validation": int(val.sum()), "buffer_dropped": int(overlap.sum()),
                     "train_mines": int(y[train].sum()), "validation_mines": int(y[val].sum())}
            return val, train, facts
    raise DetectorError(
        "No split into {block_km:g} km blocks puts mines and non-mines on both sides ({n_blocks} "
        "blocks, {sum} mines, {sum2} not). Use a smaller --block-km, or label more places, so that "
        "mines and non-mines occur in several blocks.",
        block_km=block_km, n_blocks=len(blocks), sum=int(y.sum()), sum2=int((y == 0).sum())
    )
