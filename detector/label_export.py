"""The reviewers' labels out: one answer per item (the majority), written as sampling-location GeoJSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_path
from .labels import LabelStore
from .sampling import sampling_geojson


@dataclass
class ExportResult:
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ties: int = 0  # items left out because as many reviewers said yes as no
    unsure: int = 0  # items left out because every answer was "unsure"

    def left_out(self) -> str:
        """What the export did not write, in words ('' when nothing)."""
        parts = []
        if self.ties:
            parts.append(f"{self.ties:,} item{'s' if self.ties != 1 else ''} where as many reviewers said yes as no")
        if self.unsure:
            parts.append(f"{self.unsure:,} item{'s' if self.unsure != 1 else ''} only ever marked unsure")
        return ("Left out: " + "; ".join(parts) + ". A third review, or a second look, decides them.") if parts else ""



def export(store: LabelStore, out_dir: str | Path) -> ExportResult:
    """Current labels as sampling-location GeoJSON for training: one file of positives, negatives by category.

    Where reviewers disagree, the majority decides and a tie leaves the item out; "unsure" is left
    out. Negatives go to ``labels_<category>_negatives.geojson`` (``labels_negatives.geojson`` when no
    category was given), so importing the folder again gives back the same labels.
    """
    out = Path(out_dir)
    everyone = consensus(store.current())
    tied = (everyone["yes"] == everyone["no"]) & (everyone["yes"] > 0)
    res = ExportResult(ties=int(tied.sum()), unsure=int(((everyone["yes"] + everyone["no"]) == 0).sum()))
    agreed = everyone[everyone["is_mine"].isin(["yes", "no"]) & everyone["lon"].notna()]
    # a point inside two overlapping patches labels both: export it once
    agreed = agreed.loc[~agreed.assign(x=agreed["lon"].round(6), y=agreed["lat"].round(6))
                        .duplicated(["x", "y", "is_mine", "category"])]
    groups = {"labels_positives": agreed[agreed["is_mine"] == "yes"]}
    neg = agreed[agreed["is_mine"] == "no"]
    for cat, rows in neg.groupby(neg["category"].fillna(""), sort=True):
        groups[f"labels_{cat}_negatives" if cat else "labels_negatives"] = rows
    for name, rows in groups.items():
        path = out / f"{name}.geojson"
        with atomic_path(path) as tmp:
            tmp.write_text(sampling_geojson(name, rows), encoding="utf-8")
        res.files[name] = path
        res.counts[name] = len(rows)
    return res


def consensus(current: pd.DataFrame) -> pd.DataFrame:
    """One answer per item from the reviewers' current labels: the majority of yes and no.

    A tie between yes and no, or only "unsure", makes the item ``unsure``. The category is the most
    common one among the "no" answers; the point is the first label's. ``reviewers`` counts the labels.
    """
    cols = ["item", "is_mine", "category", "patch_id", "source", "lon", "lat", "reviewers", "yes", "no"]
    if current.empty:
        return pd.DataFrame(columns=cols)
    df = current.assign(_yes=current["is_mine"].eq("yes"), _no=current["is_mine"].eq("no"))
    g = df.groupby("item", sort=False)
    out = g.agg(patch_id=("patch_id", "first"), source=("source", "first"), lon=("lon", "first"),
                lat=("lat", "first"), reviewers=("reviewer", "size"), yes=("_yes", "sum"), no=("_no", "sum"))
    out["is_mine"] = np.where(out["yes"] > out["no"], "yes", np.where(out["no"] > out["yes"], "no", "unsure"))
    cats = df[df["_no"] & df["category"].notna()].groupby("item")["category"].agg(lambda s: s.mode().iloc[0])
    out["category"] = cats.reindex(out.index).where(out["is_mine"] == "no")
    return out.reset_index()[cols]
