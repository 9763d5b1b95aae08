"""The label store: what reviewers said about detections, append-only, safe with many reviewers at once.

A label says who, when, what (a patch id, or a point and the layer it came from), whether it is a
mine (``yes`` / ``no`` / ``unsure``), for a "no" the look-alike it is, and a note. Nothing is ever
updated or deleted: a reviewer's new label on an item supersedes their earlier one, and undo appends
a record that restores what was there before. A reviewer's *current* label on an item is their
latest record; the whole history stays readable.

The store is a SQLAlchemy database: a SQLite file in the data folder by default (WAL mode, a busy
timeout, writes in ``BEGIN IMMEDIATE`` transactions, so reviewers in several processes lose nothing),
PostgreSQL or any other server when ``DATABASE_URL`` says so.

Sampling-location files (the published training points) import as labels (:meth:`LabelStore.
import_sampling`); current labels export back to that format for training (:meth:`LabelStore.export`).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from . import config
from .errors import DetectorError

#: The answers to "is this a mine?".
IS_MINE = ("yes", "no", "unsure")
#: Look-alike categories for a "no", with the words a reviewer sees.
CATEGORIES = {
    "aquaculture": "Aquaculture pond",
    "riverbank": "Riverbank or sandbar",
    "farm_pond": "Farm pond",
    "landslide": "Landslide",
    "industrial": "Industrial site",
    "cloud": "Cloud or haze artifact",
    "other": "Other",
}
#: How the reviewer was choosing items when they labelled one; ``random`` labels estimate precision.
QUEUES = ("uncertain", "score", "random", "region", "import", "manual")
BUSY_TIMEOUT_S = 60

_metadata = MetaData()
LABELS = Table(
    "labels", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item", String(300), nullable=False, index=True),  # what is labelled: a patch id, else "pt:lon,lat"
    Column("patch_id", String(300), index=True),
    Column("source", String(300)),  # the layer (catalog name, Detect run) or sampling file the item came from
    Column("lon", Float),
    Column("lat", Float),
    Column("geometry", Text),  # WKT, EPSG:4326: the patch or the point
    Column("action", String(10), nullable=False),  # "label", or "retract" (the reviewer withdrew their label)
    Column("is_mine", String(10)),
    Column("category", String(30)),
    Column("note", Text),
    Column("reviewer", String(200), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("queue", String(20)),
    Column("score", Float),
    Column("supersedes", Integer),  # the reviewer's previous record on this item
    Column("reverts", Integer),  # set by undo: the record this one takes back
)
COLUMNS = [c.name for c in LABELS.columns]


@dataclass(frozen=True)
class Label:
    """One reviewer's decision about one item (what :meth:`LabelStore.add` takes)."""

    item: str
    is_mine: str
    reviewer: str
    category: str | None = None
    note: str = ""
    patch_id: str | None = None
    source: str | None = None
    lon: float | None = None
    lat: float | None = None
    geometry: str | None = None
    queue: str | None = None
    score: float | None = None

    def check(self) -> Label:
        """The label itself, or a DetectorError saying what is wrong with it."""
        if self.is_mine not in IS_MINE:
            raise DetectorError("is_mine must be one of {is_mine}, not {is_mine2!r}.", is_mine=', '.join(IS_MINE), is_mine2=self.is_mine)
        if self.category is not None and self.category not in CATEGORIES:
            raise DetectorError("Unknown look-alike category {category!r}; use one of {categories}.", category=self.category, categories=', '.join(CATEGORIES))
        if self.category is not None and self.is_mine == "yes":
            raise DetectorError("A look-alike category only goes with is_mine 'no' or 'unsure'.")
        if not self.reviewer.strip():
            raise DetectorError("Every label needs a reviewer: say who you are.")
        if not plain_name(self.reviewer, MAX_REVIEWER):
            raise DetectorError("A reviewer name is at most {max_reviewer} characters, without control characters.", max_reviewer=MAX_REVIEWER)
        if not self.item:
            raise DetectorError("A label needs an item (a patch id or a point).")
        if self.queue is not None and self.queue not in QUEUES:
            raise DetectorError("Unknown queue {queue!r}; use one of {queues}.", queue=self.queue, queues=', '.join(QUEUES))
        return self


#: Longest reviewer name (a name or an e-mail address).
MAX_REVIEWER = 120
#: Reviewer names of curated imports (``labels import``); nobody reviews under them by hand.
IMPORT_PREFIX = "import:"


def plain_name(name: str, limit: int) -> bool:
    """At most ``limit`` characters and no control or other non-printing characters."""
    return len(name) <= limit and not any(unicodedata.category(c)[0] == "C" for c in name)


def check_reviewer_name(name: str) -> str:
    """A name typed on the Review page, or a DetectorError saying what to change."""
    name = name.strip()
    if name.lower().startswith(IMPORT_PREFIX):
        raise DetectorError("Names starting with {import_prefix!r} are kept for imported label sets; choose your own.", import_prefix=IMPORT_PREFIX)
    if not plain_name(name, 64):
        raise DetectorError("A reviewer name is at most 64 characters, letters, digits and punctuation only.")
    return name


def point_item(lon: float, lat: float) -> str:
    """The item key of a bare point (about 10 cm apart is the same point)."""
    return f"pt:{lon:.6f},{lat:.6f}"


def layer_patch_ids(patches: gpd.GeoDataFrame, source: str) -> pd.Series:
    """Each patch's id: its own ``patch_id`` (Detect runs: grid ids), else ``source#index`` (published layers).

    The published files are pinned by checksum, so a feature's position in its file is a stable id.
    """
    if "patch_id" in patches.columns:
        return patches["patch_id"].astype(str)
    return pd.Series([f"{source}#{i}" for i in range(len(patches))], index=patches.index, dtype=object)


def default_url() -> str:
    """``DATABASE_URL`` when set (``postgresql+psycopg://…``), else a SQLite file in the data folder."""
    conf = config.settings()
    return conf.layout.labels_url(conf.database_url)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across application crashes in WAL mode
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection):
        # A writer takes the write lock when its transaction starts, so two reviewers never both read
        # "no label yet" and then both write on top of it; the other waits (busy timeout).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


def _now() -> datetime:
    return datetime.now(UTC)


class LabelStore:
    """The labels database. Cheap to keep for a process's life; safe to share between threads."""

    def __init__(self, url: str | None = None):
        self.url = url or default_url()
        try:
            if self.url.startswith("sqlite"):
                db = make_url(self.url).database
                if db and db != ":memory:" and not Path(db).expanduser().parent.is_dir():
                    raise DetectorError(
                        "The label store {safe_url} is in a folder that does not exist ({parent}). Create the "
                        "folder, or fix DATABASE_URL / --database.",
                        safe_url=self._safe_url(), parent=Path(db).expanduser().parent
                    )
                self._engine = _sqlite_engine(self.url)
            else:
                self._engine = create_engine(self.url, pool_pre_ping=True)
            self._create()
        except DetectorError:
            raise
        except Exception as exc:  # noqa: BLE001 — a bad URL, a missing driver, a server that is down
            raise DetectorError(
                "The label store at {safe_url} cannot be opened ({name}: {scrub}). Check DATABASE_URL (for "
                "PostgreSQL: postgresql+psycopg://user:password@host/db, with psycopg installed), or unset "
                "it to use the SQLite file in the data folder.",
                safe_url=self._safe_url(), name=type(exc).__name__, scrub=self._scrub(str(exc))
            ) from None

    def _scrub(self, text: str) -> str:
        """An error's text with every piece of the URL's credentials taken out (drivers quote them)."""
        m = re.match(r"^[^:]+://([^/]*)@", self.url)
        if not m:
            return text
        for piece in sorted(set(re.split(r"[:@]", m.group(1))), key=len, reverse=True):
            if len(piece) >= 2:
                text = text.replace(piece, "***")
        return text

    def _safe_url(self) -> str:
        """The URL without its password (which may itself hold '@' or ':')."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - not a URL SQLAlchemy parses: hide everything up to the last '@'
            return re.sub(r"//[^/]*@", "//***@", self.url)

    def __repr__(self) -> str:
        return f"LabelStore({self._safe_url()!r})"

    def _write(self):
        return self._engine.connect().execution_options(write=True)

    def _create(self) -> None:
        for attempt in range(3):  # two processes creating the table at once: the second finds it
            try:
                with self._write() as conn, conn.begin():
                    _metadata.create_all(conn, checkfirst=True)
                return
            except OperationalError:
                if attempt == 2:
                    raise

    # ------------------------------------------------------------ writing

    def add(self, label: Label) -> int:
        """Append a label (superseding this reviewer's earlier one on the item); returns its id."""
        return self.add_many([label])[0]

    def add_many(self, labels: Iterable[Label]) -> list[int]:
        """Append labels in one transaction: all of them or, on an error, none."""
        labels = [lab.check() for lab in labels]
        ids = []
        with self._write() as conn, conn.begin():
            for lab in labels:
                ids.append(self._append(conn, {**asdict(lab), "action": "label"}))
        return ids

    def _append(self, conn: Connection, row: dict) -> int:
        if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE does this there: one writer per item
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{row['reviewer']}\x1f{row['item']}"})
        prev = conn.execute(
            select(func.max(LABELS.c.id)).where(LABELS.c.reviewer == row["reviewer"], LABELS.c.item == row["item"])
        ).scalar()
        row = {**row, "note": row.get("note") or None, "created_at": _now(), "supersedes": prev}
        return int(conn.execute(insert(LABELS).values(**row)).inserted_primary_key[0])

    def undo(self, reviewer: str, within: Collection[int] | None = None) -> dict | None:
        """Take back the reviewer's latest label not yet taken back; returns the record that did it.

        The item goes back to what this reviewer had said before (a copy of that record is appended), or
        to no label. Calling it again walks further back. Nothing is deleted. ``within`` limits it to
        those label ids (what one browser session made), so nobody undoes another session's work.
        """
        if within is not None and not within:
            return None
        with self._write() as conn, conn.begin():
            reverted = select(LABELS.c.reverts).where(LABELS.c.reviewer == reviewer, LABELS.c.reverts.is_not(None))
            query = select(LABELS).where(LABELS.c.reviewer == reviewer, LABELS.c.action == "label",
                                         LABELS.c.reverts.is_(None), LABELS.c.id.not_in(reverted))
            if within is not None:
                query = query.where(LABELS.c.id.in_([int(i) for i in within]))
            last = conn.execute(query.order_by(LABELS.c.id.desc()).limit(1)).mappings().first()
            if last is None:
                return None
            before = None
            if last["supersedes"] is not None:
                before = conn.execute(select(LABELS).where(LABELS.c.id == last["supersedes"])).mappings().first()
            row = {k: last[k] for k in ("item", "patch_id", "source", "lon", "lat", "geometry", "reviewer")}
            if before is not None and before["action"] == "label":
                row.update({k: before[k] for k in ("is_mine", "category", "note", "queue", "score")}, action="label")
            else:
                row.update(action="retract", is_mine=None, category=None, note=None, queue=None, score=None)
            row["reverts"] = last["id"]
            new_id = self._append(conn, row)
            return {**row, "id": new_id, "undone": dict(last)}

    # ------------------------------------------------------------ reading

    def _frame(self, query) -> pd.DataFrame:
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        df = pd.DataFrame(rows, columns=COLUMNS)
        if not df.empty:
            df["created_at"] = pd.to_datetime(df["created_at"], utc=True)
        return df

    def history(self, item: str | None = None, reviewer: str | None = None) -> pd.DataFrame:
        """Every record, oldest first (retractions and superseded labels included)."""
        q = select(LABELS).order_by(LABELS.c.id)
        if item is not None:
            q = q.where(LABELS.c.item == item)
        if reviewer is not None:
            q = q.where(LABELS.c.reviewer == reviewer)
        return self._frame(q)

    def current(self, reviewer: str | None = None, items: Sequence[str] | None = None) -> pd.DataFrame:
        """Each reviewer's standing label on each item (their latest record, unless they withdrew it)."""
        latest = select(func.max(LABELS.c.id)).group_by(LABELS.c.reviewer, LABELS.c.item)
        if reviewer is not None:
            latest = latest.where(LABELS.c.reviewer == reviewer)
        q = select(LABELS).where(LABELS.c.id.in_(latest), LABELS.c.action == "label").order_by(LABELS.c.id)
        df = self._frame(q)
        if items is not None:
            df = df[df["item"].isin(set(items))]
        return df.reset_index(drop=True)

    def labelled_items(self, reviewer: str) -> set[str]:
        """The items this reviewer has a standing label on (the review queue skips them)."""
        return set(self.current(reviewer)["item"])

    def count(self) -> int:
        """How many records the store holds (all of them: the history)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(LABELS)).scalar())

    def stats(self) -> dict:
        """Headline figures: records, current labels by answer and category, reviewers, items."""
        cur = self.current()
        no = cur[cur["is_mine"] == "no"]
        return {
            "records": self.count(),
            "current": len(cur),
            "items": int(cur["item"].nunique()),
            "reviewers": int(cur["reviewer"].nunique()),
            "by_answer": {k: int((cur["is_mine"] == k).sum()) for k in IS_MINE},
            "by_category": {k: int((no["category"] == k).sum()) for k in CATEGORIES if (no["category"] == k).any()}
            | ({"(none)": int(no["category"].isna().sum())} if no["category"].isna().any() else {}),
            "by_reviewer": cur.groupby("reviewer").size().sort_values(ascending=False).astype(int).to_dict(),
            "with_patch": int(cur["patch_id"].notna().sum()),
        }

    # ------------------------------------------------------------ sampling locations in and out

    def import_sampling(self, files: Sequence[str | Path], layer: gpd.GeoDataFrame | None = None,
                        layer_name: str | None = None, reviewer: str | None = None) -> list:
        """Sampling-location files as labels; see :func:`detector.label_import.import_sampling`."""
        from .label_import import import_sampling

        return import_sampling(self, files, layer, layer_name, reviewer)

    def add_new(self, labels: list[Label]) -> tuple[int, int]:
        """Append the labels that change something; returns (added, unchanged)."""
        if not labels:
            return 0, 0
        labels = [lab.check() for lab in labels]
        reviewer = labels[0].reviewer
        # Read what stands and append what is new in one write transaction: two imports of the same
        # files at once cannot both see "not there yet" (SQLite: BEGIN IMMEDIATE; PostgreSQL: a lock).
        with self._write() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"import\x1f{reviewer}"})
            latest = select(func.max(LABELS.c.id)).where(LABELS.c.reviewer == reviewer).group_by(LABELS.c.item)
            rows = conn.execute(select(LABELS.c.item, LABELS.c.is_mine, LABELS.c.category)
                                .where(LABELS.c.id.in_(latest), LABELS.c.action == "label")).all()
            have = {(r.item, r.is_mine, r.category) for r in rows}
            fresh, seen = [], set()
            for lab in labels:
                key = (lab.item, lab.is_mine, lab.category)
                if key not in have and key not in seen:
                    fresh.append(lab)
                    seen.add(key)
            for lab in fresh:
                self._append(conn, {**asdict(lab), "action": "label"})
        return len(fresh), len(labels) - len(fresh)

    def export(self, out_dir: str | Path):
        """Current labels as sampling-location GeoJSON for training; see :func:`detector.label_export.export`."""
        from .label_export import export

        return export(self, out_dir)
