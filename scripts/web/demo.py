"""A demo stack of 10,000 monitors, for the dashboard's screenshots and its bench.

    demo.py screenshots --bin BIN_DIR [--out docs] [--monitors 10000]
    demo.py bench --bin BIN_DIR [--monitors 10000] [--runs 5]

Both start, on loopback only: the bench's target farm (HTTP + DNS for *.bench.test),
lookout-control on a scratch PostgreSQL schema and Redis prefix (dropped at the end), an account,
two notification channels, 10,000 monitors through one bulk import, a status page, and
lookout-engine in cluster mode checking them. A fresh stack has no past, so the 90 days of daily
rollups behind the status page's bars and a few old incidents are written with SQL (marked here
as demo data); everything else is produced by the real engine and control plane.

`screenshots` writes PNGs of the monitor list (light, dark, phone), a monitor's detail and the
status page. `bench` loads the dashboard in a fresh headless Chromium each run and reports, from
the browser's own timings, time to first render and to interactive, when all 10,000 rows are in,
and how fast the virtual list scrolls (see scripts/bench-dashboard).

Needs DATABASE_URL and REDIS_URL (scripts/services env) and the venv of scripts/setup.
"""
import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "ControlTests", "Browser"))

from lookout_browser import make_driver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SERVICES = ["checkout", "payments", "search", "catalog", "accounts", "auth", "cart", "images", "mail",
            "billing", "orders", "inventory", "reports", "gateway", "graphql", "ledger", "notify", "cdn"]
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af-south"]
KINDS = ["API", "health", "web", "worker", "admin"]


def log(message):
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(database_url, sql):
    return subprocess.run(["psql", database_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


class API:
    def __init__(self, base):
        self.base = base
        self.token = None

    def call(self, method, path, body=None, timeout=120):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + "/api/v1" + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{method} {path} answered {error.code}: {error.read()[:500]!r}")


class Stack:
    def __init__(self, bin_dir, monitors, fast=60):
        self.bin = bin_dir
        self.count = monitors
        self.fast = fast
        self.database = os.environ.get("DATABASE_URL") or sys.exit("DATABASE_URL is not set (scripts/services env)")
        self.redis = os.environ.get("REDIS_URL") or sys.exit("REDIS_URL is not set (scripts/services env)")
        self.schema = f"lookout_web_{int(time.time())}_{random.randrange(16**6):06x}"
        self.prefix = f"lookout-web-{random.randrange(16**6):06x}"
        self.directory = tempfile.mkdtemp(prefix="lookout-web-demo-")
        self.processes = {}
        self.session = None

    # -- processes --------------------------------------------------------------------------

    def spawn(self, name, arguments):
        out = open(os.path.join(self.directory, f"{name}.log"), "wb")
        self.processes[name] = subprocess.Popen(arguments, stdout=out, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, cwd=self.directory)

    def log_tail(self, name):
        try:
            with open(os.path.join(self.directory, f"{name}.log"), "rb") as f:
                return f.read()[-3000:].decode(errors="replace")
        except OSError:
            return ""

    def wait(self, what, condition, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited ({process.returncode}): {self.log_tail(name)}")
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {what}")

    def start(self):
        psql(self.database, f"CREATE SCHEMA {self.schema}")
        self.url = self.database + ("&" if "?" in self.database else "?") + f"options=-csearch_path%3D{self.schema}"
        self.http_port, self.dns_port = free_port(), free_port()
        log(f"farm on HTTP {self.http_port}, DNS {self.dns_port}")
        self.spawn("farm", [f"{self.bin}/lookout-bench", "farm", "--http-port", str(self.http_port),
                            "--dns-port", str(self.dns_port)])
        self.wait("the farm", lambda: '"event":"ready"' in self.log_tail("farm"))
        self.control_port = free_port()
        self.base = f"http://127.0.0.1:{self.control_port}"
        log(f"lookout-control on {self.base} (schema {self.schema}, prefix {self.prefix})")
        self.spawn("control", [f"{self.bin}/lookout-control", "--database", self.url, "--redis", self.redis,
                               "--redis-prefix", self.prefix, "--port", str(self.control_port),
                               "--allow-private-targets", "--bcrypt-cost", "10", "--dispatcher-concurrency", "0"])
        self.wait("lookout-control", self.healthy)
        self.api = API(self.base)
        self.seed()

    def healthy(self):
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def start_engine(self):
        log("lookout-engine (cluster mode)")
        self.spawn("engine", [f"{self.bin}/lookout-engine", "--database", self.url, "--redis", self.redis,
                              "--redis-prefix", self.prefix, "--engine-id", "engine-web-demo",
                              "--dns-server", f"127.0.0.1:{self.dns_port}", "--allow-private-targets",
                              "--spill-dir", os.path.join(self.directory, "spill")])

    def stop_engine(self):
        process = self.processes.pop("engine", None)
        if process:
            process.terminate()
            process.wait(timeout=30)

    def stop(self):
        for name in ["engine", "control", "farm"]:
            process = self.processes.pop(name, None)
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        try:
            psql(self.database, f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        except subprocess.CalledProcessError as error:
            log(f"could not drop schema {self.schema}: {error.stderr}")
        redis_port = self.redis.rsplit(":", 1)[-1].strip("/")
        keys = subprocess.run(["redis-cli", "-p", redis_port, "--scan", "--pattern", f"{self.prefix}:*"],
                              capture_output=True, text=True).stdout.split()
        for start in range(0, len(keys), 500):
            subprocess.run(["redis-cli", "-p", redis_port, "DEL", *keys[start:start + 500]], capture_output=True)

    # -- data -------------------------------------------------------------------------------

    def seed(self):
        api = self.api
        self.session = api.call("POST", "/auth/register", {"email": "ops@lookout.test", "password": "lookout-demo",
                                                             "name": "Ops team"})
        api.token = self.session["token"]
        api.call("POST", "/notification-channels", {"type": "email", "name": "On-call e-mail",
                                                     "config": {"to": "oncall@lookout.test"}})
        api.call("POST", "/notification-channels", {"type": "webhook", "name": "Incident webhook",
                                                     "config": {"url": f"http://127.0.0.1:{self.http_port}/ok"}})
        rng = random.Random(7)
        monitors = []
        farm = f"bench.test:{self.http_port}"
        for index in range(self.count):
            service = SERVICES[index % len(SERVICES)]
            region = REGIONS[(index // len(SERVICES)) % len(REGIONS)]
            kind = KINDS[(index // (len(SERVICES) * len(REGIONS))) % len(KINDS)]
            number = index // (len(SERVICES) * len(REGIONS) * len(KINDS)) + 1
            host = f"{service}-{region}-{number}.{farm}"
            roll = rng.random()
            if roll < 0.012:
                path = "/status/503"
            elif roll < 0.02:
                path = "/close"
            elif roll < 0.3:
                path = f"/delay/{rng.choice([20, 40, 80, 150, 300])}"
            elif roll < 0.5:
                path = "/json"
            else:
                path = "/ok"
            monitors.append({
                "externalId": f"demo-{index:05d}",
                "name": f"{service.capitalize()} {kind} · {region} #{number}",
                "url": f"http://{host}{path}",
                "intervalSeconds": 2 if index < self.fast else 60,
                "timeoutMs": 5000,
                "paused": index % 997 == 500,
            })
        started = time.monotonic()
        created = api.call("POST", "/monitors/bulk", {"monitors": monitors}, timeout=600)
        log(f"bulk import of {created['created']:,} monitors: {time.monotonic() - started:.1f} s")
        # The ids come in the order of the request, so these are the first (fast) monitors; sorting
        # them would only hold while the database hands out ascending ids in request order.
        self.first_ids = created["ids"][:12]
        page = api.call("POST", "/status-pages", {
            "title": "Acme Cloud status", "slug": "acme-cloud",
            "description": "Live status of Acme's public services. Times in UTC.",
            "monitorIds": self.first_ids[:6],
        })
        self.status_slug = page["slug"]
        self.history(self.first_ids[:6])

    def history(self, ids):
        """Demo data: 89 days of daily rollups and three old incidents for the status page."""
        id_list = ",".join(str(i) for i in ids)
        psql(self.url, f"""
            INSERT INTO metrics (monitor_id, bucket, bucket_start, count, up_count, latency_avg_ms, latency_max_ms)
            SELECT m, 'day', date_trunc('day', now(), 'UTC') - d * interval '24 hours', 1440,
                   1440 - CASE WHEN (m * 31 + d * 17) % 23 = 0 THEN 40 + (m + d) % 200
                               WHEN (m * 7 + d) % 41 = 0 THEN 3 ELSE 0 END,
                   45, 300
            FROM unnest(ARRAY[{id_list}]::int8[]) AS m, generate_series(1, 89) AS d
            ON CONFLICT DO NOTHING""")
        psql(self.url, f"""
            INSERT INTO incidents (monitor_id, started_at, resolved_at, cause_status, cause_code, cause_message, http_status)
            VALUES ({ids[1]}, now() - interval '12 days 3 hours', now() - interval '12 days 2 hours 20 minutes',
                    'DOWN', 'status_mismatch', 'HTTP 503', 503),
                   ({ids[3]}, now() - interval '40 days 5 hours', now() - interval '40 days 4 hours 48 minutes',
                    'TIMEOUT', 'timeout', 'timed out', 0),
                   ({ids[0]}, now() - interval '71 days 2 hours', now() - interval '71 days 1 hour',
                    'ERROR', 'connect_refused', 'refused', 0)""")

    # -- the browser ------------------------------------------------------------------------

    def signed_in(self, driver):
        """Puts the session in the browser's storage from a page that loads none of the
        dashboard's files (the 404 page), so the dashboard's first load stays cold."""
        driver.get(self.base + "/status/no-such-page")
        driver.execute_script("localStorage.setItem('lookout.session', arguments[0]);", json.dumps(self.session))


def wait(driver, condition, timeout=120, message=""):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition(d), message)


def list_complete(driver):
    return driver.execute_script(
        "const t = document.getElementById('monitor-table'); return t && t.dataset.complete === 'true';")


def visible_sparks(driver):
    return driver.execute_script("""
        const rows = [...document.querySelectorAll('.vrow:not([hidden])')];
        const box = document.getElementById('monitor-scroll').getBoundingClientRect();
        const shown = rows.filter(r => { const b = r.getBoundingClientRect(); return b.top >= box.top && b.bottom <= box.bottom; });
        return shown.length > 0 && shown.every(r => r.dataset.status === 'PAUSED' || r.querySelector('.spark path'));""")


# -- screenshots ---------------------------------------------------------------------------

def screenshots(stack, out):
    os.makedirs(out, exist_ok=True)
    stack.start_engine()
    log("waiting for the fast monitors to have 40 checks (their sparklines and the detail chart)")
    detail_id = stack.first_ids[0]

    def enough():
        page = stack.api.call("GET", f"/monitors/{detail_id}/checks?limit=60")
        return len(page["data"]) >= 45
    stack.wait("checks of the detail monitor", enough, timeout=240)
    # Every monitor of the list's first screen checked at least once.
    stack.wait("first checks", lambda: all(m["lastCheck"] for m in stack.api.call(
        "GET", "/monitors?limit=20")["data"] if not m["paused"]), timeout=120)

    # Most monitors confirmed UP or DOWN (the slow ones are checked once a minute, and a state
    # needs its confirmation checks).
    stack.wait("confirmed states", lambda: int(psql(stack.url, "SELECT count(*) FROM monitor_states") or 0)
               >= stack.count * 0.95, timeout=600)
    shots = []
    for name, width, height, scheme in [("dashboard-monitors", 1280, 800, "light"),
                                        ("dashboard-monitors-dark", 1280, 800, "dark"),
                                        ("dashboard-phone", 390, 844, "light")]:
        driver = make_driver(max(width, 500), height, color_scheme=scheme)
        if width < 500:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})
        try:
            stack.signed_in(driver)
            driver.get(stack.base + "/#/monitors")
            wait(driver, list_complete, message="list not complete")
            if width > 600:
                wait(driver, visible_sparks, message="sparklines not loaded")
            path = os.path.join(out, f"{name}.png")
            driver.save_screenshot(path)
            shots.append(path)
        finally:
            driver.quit()

    driver = make_driver(1280, 1100, color_scheme="light")
    try:
        stack.signed_in(driver)
        driver.get(f"{stack.base}/#/monitors/{detail_id}")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#detail-chart path.phase-connect")
             and d.find_element(By.CSS_SELECTOR, ".detail").get_attribute("data-loaded") == "true")
        path = os.path.join(out, "dashboard-detail.png")
        driver.save_screenshot(path)
        shots.append(path)
        driver.get(f"{stack.base}/status/{stack.status_slug}")
        wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed"))
        driver.set_window_size(1100, 1400)
        path = os.path.join(out, "status-page.png")
        driver.save_screenshot(path)
        shots.append(path)
    finally:
        driver.quit()
    for path in shots:
        log(f"wrote {os.path.relpath(path, ROOT)}")


# -- bench ---------------------------------------------------------------------------------

FIRST_LOAD = """
const nav = performance.getEntriesByType('navigation')[0];
const mark = (name) => { const m = performance.getEntriesByName(name)[0]; return m ? m.startTime : null; };
const paint = (name) => { const p = performance.getEntriesByName(name).find(e => e.entryType === 'paint'); return p ? p.startTime : null; };
return {
  responseEnd: nav.responseEnd,
  domContentLoaded: nav.domContentLoadedEventEnd,
  load: nav.loadEventEnd,
  firstContentfulPaint: paint('first-contentful-paint'),
  listInteractive: mark('lookout:list-interactive'),
  listPainted: mark('lookout:list-painted'),
  listComplete: mark('lookout:list-complete'),
  rows: document.getElementById('monitor-table').dataset.loaded,
  domElements: document.getElementsByTagName('*').length,
  rowElements: document.querySelectorAll('.vrow').length,
  heapMB: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null,
};
"""

SCROLL = """
const done = arguments[arguments.length - 1];
const scroller = document.getElementById('monitor-scroll');
const frames = [];
const longTasks = [];
const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map(e => e.duration)));
try { observer.observe({ type: 'longtask', buffered: false }); } catch (e) {}
// 1. Jump to the end: time from the scroll to the frame that shows the last row.
const jumpStart = performance.now();
scroller.scrollTop = scroller.scrollHeight;
requestAnimationFrame(() => requestAnimationFrame(() => {
  const last = [...document.querySelectorAll('.vrow:not([hidden])')].some(r => r.getAttribute('aria-rowindex') == String(Number(document.getElementById('monitor-table').dataset.loaded) + 1));
  const jump = performance.now() - jumpStart;
  scroller.scrollTop = 0;
  // 2. Scroll through every row, one screen per frame, end to end.
  const step = scroller.clientHeight;
  let previous = null;
  const tick = (now) => {
    if (previous !== null) frames.push(now - previous);
    previous = now;
    if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) {
      observer.disconnect();
      done({ jumpMs: jump, lastRowShown: last, frames, longTasks, rowElements: document.querySelectorAll('.vrow').length });
      return;
    }
    scroller.scrollTop += step;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}));
"""


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench(stack, runs):
    stack.start_engine()
    log("letting the engine check every monitor once (a minute), then stopping it for quiet measurements")
    stack.wait("a check of every monitor", lambda: int(psql(
        stack.url, "SELECT count(DISTINCT monitor_id) FROM checks WHERE checked_at > now() - interval '5 minutes'"
    ) or 0) >= stack.count * 0.98, timeout=240)
    stack.stop_engine()
    loads, scrolls = [], []
    for run in range(runs):
        driver = make_driver(1280, 800)
        try:
            stack.signed_in(driver)
            driver.get(stack.base + "/#/monitors")
            wait(driver, list_complete, message="list not complete")
            figures = driver.execute_script(FIRST_LOAD)
            driver.set_script_timeout(120)
            scroll = driver.execute_async_script(SCROLL)
        finally:
            driver.quit()
        loads.append(figures)
        scrolls.append(scroll)
        frames = scroll["frames"]
        log(f"run {run + 1}: first render {figures['listPainted']:.0f} ms, interactive {figures['listInteractive']:.0f} ms, "
            f"all {figures['rows']} rows {figures['listComplete']:.0f} ms; jump to end {scroll['jumpMs']:.1f} ms; "
            f"{len(frames)} frames p50 {percentile(frames, 50):.1f} ms p95 {percentile(frames, 95):.1f} ms")

    def median(key, source=loads):
        values = [item[key] for item in source if item.get(key) is not None]
        return statistics.median(values) if values else None

    all_frames = [f for s in scrolls for f in s["frames"]]
    report = {
        "monitors": stack.count,
        "runs": runs,
        "median": {
            "htmlResponseEndMs": median("responseEnd"),
            "domContentLoadedMs": median("domContentLoaded"),
            "firstContentfulPaintMs": median("firstContentfulPaint"),
            "listInteractiveMs": median("listInteractive"),
            "listFirstRenderPaintedMs": median("listPainted"),
            "allRowsLoadedMs": median("listComplete"),
            "jumpToEndMs": median("jumpMs", scrolls),
            "domElements": median("domElements"),
            "rowElementsInDom": median("rowElements"),
            "jsHeapMB": median("heapMB"),
        },
        "scroll": {
            "frames": len(all_frames),
            "frameP50Ms": percentile(all_frames, 50),
            "frameP95Ms": percentile(all_frames, 95),
            "frameMaxMs": max(all_frames),
            "longTasks": sum(len(s["longTasks"]) for s in scrolls),
            "rowElementsAfterScroll": max(s["rowElements"] for s in scrolls),
        },
    }
    print(json.dumps(report, indent=2))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["screenshots", "bench"])
    parser.add_argument("--bin", required=True, help="folder of lookout-control, lookout-engine, lookout-bench")
    parser.add_argument("--monitors", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs"))
    args = parser.parse_args()
    stack = Stack(args.bin, args.monitors)
    try:
        stack.start()
        if args.command == "screenshots":
            screenshots(stack, args.out)
        else:
            bench(stack, args.runs)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
