"""How long the Explore page takes to settle in a real browser, and how many bytes it sends there.

Starts `streamlit run app.py` on loopback (as the browser tests do), opens the Explore page with
every yearly layer on the map (the default view: cumulative up to the last period, all 45,000
polygons) in Debian's Chromium, and measures:

- **settled**: seconds from navigation until the script has finished, the map's iframe is drawn
  with all its layers, every chart is drawn, and the page stays so (the moment it became calm is
  reported, not the end of the quiet window used to make sure);
- **websocket**: bytes the server sent over Streamlit's websocket (the map's data travels there);
- **HTTP (app)**: bytes of HTTP responses from the Streamlit server (its JavaScript, the component);
- **HTTP (CDN)**: bytes of Leaflet & co., which folium loads from public CDNs (served here from
  the vendored copies in tests/browser/.vendor, since the machines are offline);
- **server**: wall seconds the first script run spent in the page (Streamlit's own timing is not
  exposed, so this is the time between the first and last websocket message of the first run).

Each repeat is a fresh browser context (empty cache) on the same server: the first one meets cold
server caches (imports, layers, encodings), the others warm ones. Each context starts with an empty
HTTP cache, so every visit is a first-time visitor's (the browser process itself, and its compiled
JavaScript, stays from one visit to the next). Then a
pan, a click on a mine and a period change are timed on a warm page.

    DETECTOR_MIRROR=/work/shared/amw python3 bench/bench_explore.py [--repeat 3] [--url-suffix '?region=country:PER']
        [--warm-start]   # the server as deploy/serve.sh starts it: the app runs once before the first visit
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from conftest import CHROMIUM, CHROMIUM_ARGS, VENDOR, _route, external  # the tests' offline routing
from streamlit_page import start_app  # the tests' way of serving the app
from test_explore_browser import FIND_MINE_JS, MAP_DIV, wait_explore  # the same notion of "settled" as the test


def start_bench_app(data_dir: str | None, warm: bool = False) -> tuple[subprocess.Popen, str]:
    env = {"DETECTOR_DATA_DIR": data_dir} if data_dir else {}
    try:
        return start_app(env, Path(tempfile.gettempdir()) / "bench_explore.log", warm=warm)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def _busy_s() -> float:
    """CPU seconds the whole machine has spent busy (from /proc/stat)."""
    f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_s() -> float:
    """CPU seconds of this process and all its descendants: the app server, Playwright, Chromium."""
    parent, times = {}, {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d.name)] = int(fields[1])
        times[int(d.name)] = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    me, total = os.getpid(), 0
    for pid in times:
        p = pid
        while p > 1 and p != me:
            p = parent.get(p, 0)
        if p == me:
            total += times[pid]
    return total / os.sysconf("SC_CLK_TCK")


class OthersCpu:
    """Share of all cores that processes outside this benchmark used while it measured: near 0 % or
    the figure is slower than the page is."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), _busy_s(), _own_s()

    def percent(self) -> float:
        wall = time.perf_counter() - self.t0
        others = (_busy_s() - self.busy0) - (_own_s() - self.own0)
        return max(0.0, 100.0 * others / (wall * (os.cpu_count() or 1)))


def measure(browser, url: str, count_bytes: bool = False) -> dict:
    """One visit in a fresh browser context (an empty cache: every visit loads every script, as a
    first-time visitor does). Bytes are counted only when asked: Playwright copies every websocket
    frame (1.6 MB of them here) to this process, which slows the page it watches by a few tenths of
    a second, so timed visits are not watched that way."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route(external, _route)
    page = context.new_page()
    ws_in = {"bytes": 0, "frames": 0, "largest": 0}
    http = {"app": 0, "cdn": 0}

    def on_ws(ws):
        def got(payload):
            n = len(payload)
            ws_in["bytes"] += n
            ws_in["frames"] += 1
            ws_in["largest"] = max(ws_in["largest"], n)
        ws.on("framereceived", got)

    def on_done(request):
        try:
            sizes = request.sizes()
        except PlaywrightError:  # a request without a response (aborted tiles)
            return
        n = max(sizes.get("responseBodySize", 0), 0) + max(sizes.get("responseHeadersSize", 0), 0)
        http["app" if request.url.startswith("http://127.0.0.1") else "cdn"] += n

    if count_bytes:
        page.on("websocket", on_ws)
        page.on("requestfinished", on_done)
    others = OthersCpu()
    t0 = time.perf_counter()
    page.goto(url)
    calm = wait_explore(page, timeout_s=90)
    settled = calm - t0
    exceptions = len(page.query_selector_all("[data-testid=stException]"))
    others_pct = others.percent()
    context.close()
    return {"settled_s": settled, "ws_bytes": ws_in["bytes"], "ws_frames": ws_in["frames"], "ws_largest": ws_in["largest"],
            "http_app": http["app"], "http_cdn": http["cdn"], "exceptions": exceptions, "others_cpu": others_pct}


def interactions(browser, url: str) -> list[dict]:
    """Warm page at Madre de Dios; then a pan, a click on a mine, a period change: time and bytes of each."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route(external, _route)
    page = context.new_page()
    got = {"bytes": 0}
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: got.__setitem__("bytes", got["bytes"] + len(payload))))
    page.goto(url + "/?lat=-12.9&lon=-70.5&zoom=11")
    wait_explore(page, timeout_s=90)
    frame = page.main_frame  # the map is drawn in the page itself (ui.map.live)
    box = page.query_selector(MAP_DIV).bounding_box()

    def pan():
        frame.evaluate("() => { amw.map.panBy([120, 60], {animate: false}); }")

    def click():
        x, y = frame.evaluate(FIND_MINE_JS)
        page.mouse.click(box["x"] + x, box["y"] + y)

    def period():
        page.query_selector("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").focus()
        page.keyboard.press("ArrowLeft")

    rows = []
    for name, action in (("pan the map (reruns to put the centre in the link)", pan),
                         ("click a mine polygon (facts appear)", click),
                         ("change the period (map restyled, not rebuilt)", period)):
        before = got["bytes"]
        others = OthersCpu()
        t0 = time.perf_counter()
        action()
        deadline = time.perf_counter() + 10
        while got["bytes"] == before and time.perf_counter() < deadline:
            page.wait_for_timeout(20)  # (Playwright delivers events while it waits, not in time.sleep)
        calm = wait_explore(page, timeout_s=60)
        rows.append({"what": name, "settled_s": calm - t0, "ws_bytes": got["bytes"] - before,
                     "others_cpu": others.percent()})
        print(f"{name}: {rows[-1]}", file=sys.stderr)
    context.close()
    return rows


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url-suffix", default="", help="appended to the app's address, e.g. '?region=country:PER'")
    ap.add_argument("--fresh-data-dir", action="store_true",
                    help="start with an empty data folder (the first load then parses the GeoJSON sources)")
    ap.add_argument("--warm-start", action="store_true",
                    help="start the server as deploy/serve.sh does: it runs the app once before the first visit")
    args = ap.parse_args()
    if not os.environ.get("DETECTOR_MIRROR"):
        raise SystemExit("Set DETECTOR_MIRROR to the published-data mirror (../shared/amw).")
    if not (VENDOR / "leaflet" / "package.json").is_file():
        raise SystemExit("Leaflet's scripts are not vendored: run tests/browser/vendor.sh first.")
    from playwright.sync_api import sync_playwright

    tmp = tempfile.mkdtemp(prefix="bench_explore_") if args.fresh_data_dir else None
    t0 = time.perf_counter()
    proc, url = start_bench_app(tmp, warm=args.warm_start)
    if args.warm_start:
        print(f"server started and warmed up in {time.perf_counter() - t0:.1f} s (before the first visit)", file=sys.stderr)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for i in range(args.repeat):
                r = measure(browser, url + "/" + args.url_suffix)
                r["run"] = i + 1
                r["caches"] = ("warmed at start" if args.warm_start else "cold") if i == 0 else "warm"
                rows.append(r)
                print(f"run {i + 1}: {r}", file=sys.stderr)
            counted = measure(browser, url + "/" + args.url_suffix, count_bytes=True)  # bytes, untimed
            for r in rows:
                r.update({k: counted[k] for k in ("ws_bytes", "ws_frames", "ws_largest", "http_app", "http_cdn")})
            steps = interactions(browser, url)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    print(f"\nMachine: {machine()}. Page: /{args.url_suffix} (all yearly layers, cumulative to the last period).\n")
    print("Bytes from one more visit, watched (the timed ones are not: see measure()).\n")
    print("| run | server caches | settled (s) | websocket (MB) | frames | largest frame (MB) | HTTP app (MB) | HTTP CDN (MB) "
          "| total (MB) | exceptions | others' CPU |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        total = r["ws_bytes"] + r["http_app"] + r["http_cdn"]
        print(f"| {r['run']} | {r['caches']} | {r['settled_s']:.2f} | {r['ws_bytes'] / 1e6:.2f} | "
              f"{r['ws_frames']} | {r['ws_largest'] / 1e6:.2f} | {r['http_app'] / 1e6:.2f} | {r['http_cdn'] / 1e6:.2f} | "
              f"{total / 1e6:.2f} | {r['exceptions']} | {r['others_cpu']:.0f} % |")
    print("\nThen, on a warm page (Madre de Dios, zoom 11):\n")
    print("| interaction | settled after (s) | websocket bytes received | others' CPU |")
    print("|---|---:|---:|---:|")
    for r in steps:
        print(f"| {r['what']} | {r['settled_s']:.2f} | {r['ws_bytes']:,} | {r['others_cpu']:.0f} % |")


if __name__ == "__main__":
    main()
