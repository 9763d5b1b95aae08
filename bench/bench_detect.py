"""The Detect page: threshold change → redrawn map with ~20,000 scored patches; first vs cached run.

(a) **Threshold change.** A result of about 20,000 scored patches (a 35 × 35 km box in Madre de
Dios, Peru, on the real patch grid) is put in a fresh score store with *synthetic* scores: a
smooth field of clustered "mining" blobs plus noise, so about a tenth of the patches score ≥ 0.5
in clusters as real detections do (the model is not run for it: scoring 20,000 patches would
only delay the measurement). The run is recorded like any page run, and the page opens it by its
link (``/detect?run=<id>``). Then the sidebar threshold is moved with the keyboard, one step
(0.01) at a time, up five steps (each threshold new to the server's cache) and back down five
(each cached). For each step: seconds from the key press until the map shows the new count
(``det.shown`` in the map's window = the count the server computed for that threshold), until the
page has settled, and the websocket bytes received. This is done twice: in a server where no model
has run, and again in the server of (b) after its runs, with TensorFlow loaded (its thousands of
modules make Streamlit's source watcher slower on the first rerun after new imports). Server-side
parts are timed in-process too.

(b) **First vs cached run.** A synthetic Sentinel-2 GeoTIFF (600 × 600 px, 6 × 6 km, as in
bench_pipeline.py) scored with the published ensemble: in-process (``Detector.run`` on a 5 × 5 km
region inside it, cold store then warm store), and in the page on a freshly started server (the
GeoTIFF by path, the whole image, Run button): first run (model load, graph tracing and
inference), the same run again (all from the store), and the run reopened by its link in a new
browser session.

    DETECTOR_MIRROR=/work/shared/amw python3 bench/bench_detect.py [--repeat 1]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "browser"), str(ROOT / "tests"), str(ROOT)]

from bench_explore import OthersCpu, machine, start_bench_app  # the Explore benchmark's server, CPU and machine notes
from conftest import CHROMIUM, CHROMIUM_ARGS, VENDOR, _route, external  # the browser tests' offline routing
from test_detect_browser import map_state, metric, model_work, wait_detect  # and their notion of "settled"

BOX = (-70.75, -13.05, -70.43, -12.73)  # Madre de Dios: about 35 × 35 km
YEAR = 2023
MODEL = "48px_v3.7"  # registered: the reopened run resolves it without loading it


def synthetic_run(data_dir: Path, seed: int = 0):
    """~20,000 patches with clustered synthetic scores in the store, recorded as a run."""
    import os

    os.environ["DETECTOR_DATA_DIR"] = str(data_dir)
    import geopandas as gpd
    from shapely.geometry import box

    from detector import grid, runs
    from detector.pipeline import Detector, DetectResult, RunSummary, _tile_frame
    from detector.readback import read_region

    region = box(*BOX)
    det = Detector(MODEL)
    key = "synthetic-scores"
    rng = np.random.default_rng(seed)
    tiles = grid.tiles_for_region(region)
    centres = [grid.patch_centers_lonlat(t.epsg, r, c) for t, (r, c) in tiles.items()]
    lon, lat = np.concatenate([c[0] for c in centres]), np.concatenate([c[1] for c in centres])
    km = np.column_stack([(lon - BOX[0]) * 108.6, (lat - BOX[1]) * 110.6])
    blobs = rng.uniform(0, 35, (60, 2))
    sigma = rng.uniform(0.3, 1.2, 60)
    field = np.zeros(len(km))
    for b, s in zip(blobs, sigma):
        field += np.exp(-((km - b) ** 2).sum(axis=1) / (2 * s * s))
    score = np.clip(0.08 + 0.85 * np.tanh(field) + rng.normal(0, 0.08, len(km)), 0, 1).astype(np.float32)
    i = 0
    for tile, (rows, cols) in tiles.items():
        n = len(rows)
        frame = _tile_frame(1, tile, rows, cols, np.ones(n, dtype=bool), score[i:i + n, None])
        det.store.write_tile(key, det.spec.name, YEAR, tile, gpd.GeoDataFrame(frame, crs="EPSG:4326"))
        i += n
    back = read_region(det.store, key, det.spec.name, YEAR, region)
    res = DetectResult(back.patches, RunSummary(model=det.spec.name, year=YEAR, source=key, tiles=back.tiles,
                                                patches=len(back.patches)))
    record = runs.RunRecord.of(res, region, "Madre de Dios 35 km box", MODEL, "synthetic scores")
    runs.RunIndex().add(record)
    return record, np.sort(res.patches["score"].to_numpy())


def server_parts(record, scores) -> list[tuple[str, float]]:
    """What the server does for a result and a threshold change, timed in-process."""
    from detector import display, runs
    from detector.pipeline import Detector
    from ui.detect import map as detect_map
    from ui.detect import results as detect_results

    out = []
    t = time.perf_counter()
    res = runs.reopen(record, Detector(MODEL).store)
    out.append(("reopen from the store (read tiles)", time.perf_counter() - t))
    t = time.perf_counter()
    result = detect_results.Result.of(res, record, geotiff=False, reopened=True)
    out.append(("sort by score, digest", time.perf_counter() - t))
    t = time.perf_counter()
    layer = display.encode_rings(result.patches.geometry.values)
    out.append((f"encode every patch for the map ({len(layer) / 1e6:.2f} MB, once per result)", time.perf_counter() - t))
    for thr in (0.5, 0.51, 0.3):
        t = time.perf_counter()
        f = detect_results.apply_rule(result.patches, detect_results.Rule(thr))
        out.append((f"threshold {thr}: filter + dissolve ({len(f.kept):,} detections → {len(f.polygons):,} polygons)",
                    time.perf_counter() - t))
    t = time.perf_counter()
    f = detect_results.apply_rule(result.patches, detect_results.Rule(0.5, True))
    out.append((f"threshold 0.5 with the isolation rule ({len(f.kept):,} detections)", time.perf_counter() - t))
    t = time.perf_counter()
    detect_map.ResultView(f, np.empty(0, int), 0.5, None, "")
    out.append(("encode the view (polygons, dropped patches)", time.perf_counter() - t))
    return out


def threshold_steps(browser, url: str, record, scores) -> tuple[dict, list[dict]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route(external, _route)
    page = context.new_page()
    got = {"bytes": 0}
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: got.__setitem__("bytes", got["bytes"] + len(p))))
    t0 = time.perf_counter()
    page.goto(f"{url}/detect?run={record.run_id}&threshold=0.5")
    calm, state = wait_detect(page, timeout_s=120, want=lambda s: s["n"] == len(scores))
    opened = {"settled_s": calm - t0, "ws_bytes": got["bytes"], "patches": state["n"], "shown": state["shown"],
              "exceptions": len(page.query_selector_all("[data-testid=stException]"))}
    frame = page.query_selector("iframe[data-testid=stCustomComponentV1]").content_frame()
    frame.evaluate("() => { window.__probe = 'same map'; }")
    thumb = page.locator("[data-testid=stSidebar] [data-testid=stSlider]").filter(
        has_text="Detection threshold").locator("input[type=range]")
    rows, thr = [], 0.5
    for key in ["ArrowRight"] * 5 + ["ArrowLeft"] * 5:
        thr = round(thr + (0.01 if key == "ArrowRight" else -0.01), 2)
        expected = int((scores >= np.float32(thr)).sum())
        work = model_work(page)
        before = got["bytes"]
        others = OthersCpu()
        thumb.focus()
        t0 = time.perf_counter()
        page.keyboard.press(key)
        drawn = None
        while time.perf_counter() - t0 < 30:
            s = map_state(page)
            if s and s["shown"] == expected and abs((s["threshold"] or 0) - thr) < 1e-9:
                drawn = time.perf_counter() - t0
                break
            page.wait_for_timeout(10)  # (Playwright delivers events while it waits)
        calm, s = wait_detect(page, want=lambda s, want=expected: s["shown"] == want)
        rows.append({"threshold": thr, "cached": key == "ArrowLeft", "detections": expected, "drawn_s": drawn,
                     "apply_ms": s["apply_ms"],
                     "settled_s": calm - t0, "ws_bytes": got["bytes"] - before, "metric": metric(page, "Detections"),
                     "same_map": s["probe"] == "same map", "model_work_same": model_work(page) == work,
                     "others_cpu": others.percent()})
        print(rows[-1], file=sys.stderr)
    context.close()
    return opened, rows


def first_vs_cached_in_process(tif: Path, region) -> list[tuple[str, float, int, int]]:
    from detector.pipeline import Detector
    from detector.sources.local import LocalSource

    out = []
    det = Detector("48px_v3.2-3.7ensemble")
    t = time.perf_counter()
    _ = det.scorer
    out.append(("load the ensemble", time.perf_counter() - t, 0, 0))
    for what in ("first run (cold store; includes graph tracing)", "same region again (warm store)"):
        res = det.run(region, YEAR, LocalSource(tif))
        out.append((what, res.summary.seconds, res.summary.scored_now, res.summary.from_store))
    return out


def run_in_page(browser, url: str, tif: Path) -> list[dict]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route(external, _route)
    page = context.new_page()
    page.goto(f"{url}/detect")
    wait_detect(page, timeout_s=120)
    page.get_by_text("A GeoTIFF on this machine").click()
    wait_detect(page)
    page.get_by_label("Path of a GeoTIFF file or folder").fill(str(tif))
    page.keyboard.press("Enter")
    page.get_by_text("Whole image:").first.wait_for(timeout=30_000)
    wait_detect(page)
    rows = []
    for what, marker in (("first run in a fresh server (model load + tracing + inference)", "scored now"),
                         ("same run again (all tiles from the store)", "came from the score store")):
        others = OthersCpu()
        t0 = time.perf_counter()
        page.get_by_role("button", name="Run detector").click()
        while not page.get_by_text(marker).count() and time.perf_counter() - t0 < 300:
            page.wait_for_timeout(20)  # a tight poll: Playwright's own waits back off to a second
        calm, s = wait_detect(page, timeout_s=120, want=lambda s: s["n"] > 0)
        rows.append({"what": what, "settled_s": calm - t0, "patches": s["n"], "model_work": model_work(page),
                     "others_cpu": others.percent()})
        print(rows[-1], file=sys.stderr)
    link = page.url
    context.close()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route(external, _route)
    page = context.new_page()
    others = OthersCpu()
    t0 = time.perf_counter()
    page.goto(link)
    calm, s = wait_detect(page, timeout_s=120, want=lambda s: s["n"] > 0)
    rows.append({"what": "the run's link opened in a new session (reopened from the store)", "settled_s": calm - t0,
                 "patches": s["n"], "model_work": model_work(page), "others_cpu": others.percent()})
    context.close()
    return rows


def main() -> None:
    import os

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.parse_args()
    if not os.environ.get("DETECTOR_MIRROR"):
        raise SystemExit("Set DETECTOR_MIRROR to the published-data mirror (../shared/amw).")
    if not (VENDOR / "leaflet" / "package.json").is_file():
        raise SystemExit("Leaflet's scripts are not vendored: run tests/browser/vendor.sh first.")
    from playwright.sync_api import sync_playwright
    from shapely.geometry import shape
    from synthetic import SCENE_CRS, SCENE_X0, SCENE_YTOP, SHUFFLED, lonlat_box, write_geotiff

    work = Path(tempfile.mkdtemp(prefix="bench_detect_"))
    record, scores = synthetic_run(work / "data_a")
    parts = server_parts(record, scores)
    print(f"synthetic run {record.run_id}: {len(scores):,} patches, {int((scores >= 0.5).sum()):,} ≥ 0.5", file=sys.stderr)

    tif = write_geotiff(work / "scene.tif", SCENE_CRS, SCENE_X0, SCENE_YTOP, 600, 600, bands=SHUFFLED)
    region = shape(lonlat_box(SCENE_CRS, SCENE_X0 + 500, SCENE_YTOP - 5500, SCENE_X0 + 5500, SCENE_YTOP - 500))
    os.environ["DETECTOR_DATA_DIR"] = str(work / "data_b")
    in_process = first_vs_cached_in_process(tif, region)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        proc, url = start_bench_app(str(work / "data_a"))
        try:
            opened, steps = threshold_steps(browser, url, record, scores)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        proc, url = start_bench_app(str(work / "data_a"))  # a fresh server: the page runs first, then (a) again
        try:
            page_runs = run_in_page(browser, url, tif)
            opened_tf, steps_tf = threshold_steps(browser, url, record, scores)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        browser.close()

    print(f"\nMachine: {machine()}.\n")
    print(f"### (a) Threshold change with {len(scores):,} scored patches (synthetic scores)\n")
    for title, o, rows in (("In a server where no model has run yet", opened, steps),
                           ("In a server where the ensemble has just run (TensorFlow loaded)", opened_tf, steps_tf)):
        print(f"{title}. Opening the run by its link: settled in {o['settled_s']:.2f} s, {o['ws_bytes'] / 1e6:.2f} MB "
              f"over the websocket; {o['patches']:,} patches on the map, {o['shown']:,} shown at 0.50.\n")
        step_table(rows)
        print()
    print("Server-side parts, in-process:\n")
    table(["part", "seconds"], "lr", [[what, f"{sec:.3f}"] for what, sec in parts])
    print("\n### (b) First vs cached run (600 × 600 px GeoTIFF, published ensemble)\n")
    table(["where", "what", "seconds", "patches scored now", "from the store"], "llrrr",
          [["in-process", what, f"{sec:.2f}", f"{now:,}", f"{stored:,}"] for what, sec, now, stored in in_process])
    print()
    table(["in the page", "settled after (s)", "patches", "model work (patches scored in the server)", "others' CPU"],
          "lrrrr", [[r["what"], f"{r['settled_s']:.2f}", f"{r['patches']:,}", f"{r['model_work']:,}",
                     f"{r['others_cpu']:.0f} %"] for r in page_runs])


def step_table(steps: list[dict]) -> None:
    yes = {True: "yes", False: "NO"}
    table(["step", "threshold", "server cache", "detections", "map redrawn (s)", "of which re-filter in the browser (ms)",
           "page settled (s)", "websocket bytes", "same map", "model work unchanged", "others' CPU"], "rrlrrrrrllr",
          [[i, f"{r['threshold']:.2f}", "hit" if r["cached"] else "miss", f"{r['detections']:,}",
            "—" if r["drawn_s"] is None else f"{r['drawn_s']:.2f}", f"{r['apply_ms']:.0f}", f"{r['settled_s']:.2f}",
            f"{r['ws_bytes']:,}", yes[r["same_map"]], yes[r["model_work_same"]], f"{r['others_cpu']:.0f} %"]
           for i, r in enumerate(steps, 1)])


def table(header: list[str], align: str, rows: list[list]) -> None:
    """A markdown table; ``align`` has one letter a column, l or r."""
    for cells in (header, ["---:" if a == "r" else "---" for a in align], *rows):
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
