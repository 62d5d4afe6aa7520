"""The dashboard in a real browser: headless Chromium against a real lookout-control and engine.

    dashboard_test.py --base-url http://127.0.0.1:PORT --target-url http://127.0.0.1:PORT/health

Run by DashboardBrowserTests (Swift), which starts the stack. The scenario: sign up; create a
monitor through the form, first with a bad URL (the API's error appears next to the field); see it
UP in the list, with the live indicator saying updates come over the WebSocket (/ws); hold every
REST request of the page, ask the test to stop the target (a line "STOP-TARGET" on stdout,
answered with "STOPPED" on stdin) and watch the row turn DOWN without reloading, so that the
change can only have come over /ws; open the monitor's detail and
its response-time chart; switch the form's kind picker with the keyboard through every kind (each
shows its own labelled fields only, also in a phone-sized window) and create a TCP monitor
against a loopback listener this script runs, first with a port out of range (the API's error
appears next to the port field), see it listed as "tcp 127.0.0.1:PORT" and UP, found by a search
for its kind, edited with its values loaded, then edited into a DNS monitor (its fields saved and
loaded again, the list's target following); build a status page in the editor and open its
public page (also as served, without JavaScript); sign out and in again.

Every wait is an explicit wait on a condition. Exit status 0 when every step passed; otherwise
the failing step, the page's URL and the browser console's errors are printed.
"""
import argparse
import json
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.request

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from lookout_browser import console_errors, make_driver

# Console errors the scenario causes on purpose: the refused bad URL (a 400 the form shows).
# A failed WebSocket (/ws) is not among them: the dashboard must be live, not polling.
EXPECTED = [
    lambda e: "/api/v1/monitors" in e["message"] and "400" in e["message"],
]

# Holds every REST request of the page (fetch to /api/v1/) until window.__releaseRequests() is
# called, then sends them: while held, nothing the page shows can come from the REST API.
HOLD_REQUESTS = """
const original = window.fetch;
const held = [];
window.__heldRequests = 0;
window.fetch = function (input, init) {
  const url = typeof input === 'string' ? input : input.url;
  if (!url.includes('/api/v1/')) return original.call(window, input, init);
  window.__heldRequests += 1;
  return new Promise((resolve, reject) => held.push(() => original.call(window, input, init).then(resolve, reject)));
};
window.__releaseRequests = () => {
  window.fetch = original;
  for (const send of held.splice(0)) send();
};
"""


def step(name):
    print(f"STEP {name} ({time.monotonic():.1f})", flush=True)


class BannerListener:
    """The target of the TCP monitor: a loopback TCP server that greets every connection with a
    banner (as SMTP or FTP servers do), counts the connections it accepted and keeps what it was
    sent."""

    BANNER = b"220 lookout-browser ready\r\n"

    def __init__(self):
        listener = self

        class Greeter(socketserver.BaseRequestHandler):
            def handle(self):
                with listener.lock:
                    listener.accepted += 1
                self.request.sendall(BannerListener.BANNER)
                # Wait for the checker to close (it has read the banner), at most a few seconds.
                self.request.settimeout(5)
                try:
                    while data := self.request.recv(4096):
                        with listener.lock:
                            listener.received += data
                except (socket.timeout, OSError):
                    pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True

        self.lock = threading.Lock()
        self.accepted = 0
        self.received = b""
        self.server = Server(("127.0.0.1", 0), Greeter)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def connections(self):
        with self.lock:
            return self.accepted

    def sent_to_it(self):
        with self.lock:
            return self.received

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Scenario:
    def __init__(self, driver, base, target_url):
        self.driver = driver
        self.base = base.rstrip("/")
        self.target_url = target_url
        self.console = []

    def wait(self, condition, timeout=20, message=""):
        def safe(driver):
            try:
                return condition(driver)
            except StaleElementReferenceException:
                return False

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(safe, message)

    def find(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def visible(self, selector, timeout=20):
        return self.wait(
            lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()), False),
            timeout,
            f"no visible {selector}",
        )

    def text_of(self, selector):
        elements = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return elements[0].text if elements else None

    def click(self, selector, timeout=20):
        """Clicks the first visible match, brought to the middle of the window first; a click
        that a re-render made stale or not interactable (a virtual list recycling its rows), or that
        the sticky top bar would take, is tried again."""
        def clicked(d):
            element = next((e for e in d.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()), None)
            if element is None:
                return False
            try:
                d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
                element.click()
                return True
            except (ElementClickInterceptedException, ElementNotInteractableException):
                return False

        return self.wait(clicked, timeout, f"could not click {selector}")

    def type(self, selector, text, clear=True):
        element = self.visible(selector)
        if clear:
            element.send_keys(Keys.CONTROL, "a")
            element.send_keys(Keys.DELETE)
        element.send_keys(text)
        return element

    def live_mode(self):
        """The live indicator's mode and tooltip: ('live', 'Live updates over WebSocket') when /ws is up."""
        indicator = self.find("#live")
        return indicator.get_attribute("data-mode"), indicator.get_attribute("title")

    def collect_console(self):
        self.console.extend(console_errors(self.driver))

    def form_kind_state(self):
        """The monitor form as the user sees it: the kind checked, and the visible and hidden
        controls (name, disabled, whether a label names them)."""
        return self.driver.execute_script("""
            const form = document.getElementById('monitor-form');
            const controls = [...form.querySelectorAll('input, select, textarea')]
              .filter((c) => c.name && c.name !== 'type' && !c.closest('#mf-channels'));
            return {
              kind: form.querySelector('input[name="type"]:checked').value,
              visible: controls.filter((c) => !c.closest('[hidden]')).map((c) => ({
                name: c.name, disabled: c.disabled, labelled: c.labels.length > 0 && c.labels[0].textContent.trim() !== '',
              })),
              hidden: controls.filter((c) => c.closest('[hidden]')).map((c) => ({ name: c.name, disabled: c.disabled })),
            };
        """)

    def press(self, *keys):
        ActionChains(self.driver).send_keys(*keys).perform()

    def tcp_monitor(self, listener):
        d = self.driver
        self.click('a[data-nav="monitors"]')
        self.click("#new-monitor")
        self.visible("#mf-url")
        assert self.form_kind_state()["kind"] == "http"
        # Keyboard only: focus the checked radio, then the arrow keys move through the kinds.
        d.execute_script("document.getElementById('mf-type-http').focus();")
        kind_fields = {
            "tcp": {"host", "port", "send", "expect"},
            "dns": {"dnsName", "recordType", "server", "expectedValues"},
            "tls": {"host", "port", "certMinDaysLeft", "verifyTLS"},
            "http": {"url", "method", "expectedStatus", "headers", "body", "httpVersion", "acceptEncoding",
                     "tlsSessionReuse", "tlsFullHandshakeSeconds", "verifyTLS"},
        }
        common = {"name", "intervalSeconds", "timeoutMs", "connectTimeoutMs", "failureThreshold",
                  "recoveryThreshold", "paused"}
        every_kind_field = set().union(*kind_fields.values())
        for kind in ["tcp", "dns", "tls", "http"]:
            self.press(Keys.ARROW_RIGHT)
            self.wait(lambda d: self.form_kind_state()["kind"] == kind, message=f"the arrow key did not pick {kind}")
            state = self.form_kind_state()
            visible = {c["name"] for c in state["visible"]}
            assert kind_fields[kind] <= visible, f"{kind}: missing {kind_fields[kind] - visible}"
            assert common <= visible, f"{kind}: missing shared fields {common - visible}"
            others = (every_kind_field - kind_fields[kind]) & visible
            assert not others, f"{kind} shows fields of other kinds: {others}"
            unlabelled = [c["name"] for c in state["visible"] if not c["labelled"]]
            assert not unlabelled, f"{kind}: controls without a label: {unlabelled}"
            assert all(not c["disabled"] for c in state["visible"]), f"{kind}: a shown control is disabled"
            assert all(c["disabled"] for c in state["hidden"]), f"{kind}: a hidden control can be reached"
            assert d.switch_to.active_element.get_attribute("value") == kind, "focus left the kind picker"
            if kind == "tls":
                assert self.find("#mf-port").get_attribute("value") == "443", "TLS does not offer port 443"
        print("  every kind shows its own fields, labelled; hidden ones are disabled", flush=True)

        step("the form in a phone-sized window: one column, nothing wider than the screen")
        size = d.get_window_size()
        d.set_window_size(390, 844)
        try:
            d.execute_script("document.querySelector('#monitor-form input[name=type]:checked').focus();")
            self.press(Keys.ARROW_RIGHT)  # tcp
            self.wait(lambda d: self.form_kind_state()["kind"] == "tcp")
            overflow = d.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];")
            assert overflow[0] <= overflow[1], f"the page is wider than the phone: {overflow}"
            host, port = self.find("#mf-host"), self.find("#mf-port")
            assert port.get_attribute("value") == "", "the 443 offered for TLS stayed for TCP"
            assert host.rect["y"] < port.rect["y"], "host and port are not stacked in one column"
        finally:
            d.set_window_size(size["width"], size["height"])

        step("a TCP monitor: a port out of range first, shown next to the port field")
        self.type("#mf-name", "Browser TCP")
        self.type("#mf-host", "127.0.0.1")
        self.type("#mf-port", "70000")
        # Typed as the escapes the field takes; the engine must send a real CR LF.
        self.type("#mf-send", "QUIT\\r\\n")
        self.type("#mf-expect", "220 lookout-browser")
        self.type("#mf-interval", "1")
        self.find("#mf-submit").click()
        error = self.visible("#mf-port-error")
        port_input = self.find("#mf-port")
        assert "65535" in error.text, error.text
        assert port_input.get_attribute("aria-invalid") == "true"
        assert "mf-port-error" in (port_input.get_attribute("aria-describedby") or "")
        assert d.switch_to.active_element == port_input, "focus did not move to the port field"
        print(f"  inline error: {error.text!r}", flush=True)

        self.type("#mf-port", str(listener.port))
        self.find("#mf-submit").click()
        self.wait(lambda d: "#/monitors/" in d.current_url and d.current_url.rstrip("/").split("/")[-1].isdigit(),
                  message="no detail page after creating the TCP monitor")
        tcp_id = d.current_url.rstrip("/").split("/")[-1]
        target = f"tcp 127.0.0.1:{listener.port}"
        self.wait(lambda d: self.text_of("#detail-name") == "Browser TCP", message="TCP detail did not load")
        self.wait(lambda d: (self.text_of("#detail-url") or "").startswith(target),
                  message=f"the detail does not say {target}: {self.text_of('#detail-url')!r}")

        step("the list shows the TCP monitor with its target, checked and UP")
        self.click('a[data-nav="monitors"]')
        row = f'.vrow[data-id="{tcp_id}"]:not([hidden])'
        self.wait(lambda d: self.text_of(f"{row} .url") == target,
                  message=f"the row does not show {target}: {self.text_of(f'{row} .url')!r}")
        self.wait(lambda d: self.text_of(f"{row} .badge") == "Up", timeout=60, message="the TCP monitor never showed UP")
        self.wait(lambda d: self.text_of(f"{row} .c-latency") not in (None, "", "–"), message="no TCP latency")
        assert listener.connections() >= 1, "the listener saw no connection"
        self.wait(lambda d: b"QUIT\r\n" in listener.sent_to_it(),
                  message=f"the engine did not send QUIT CR LF: {listener.sent_to_it()!r}")
        print(f"  {target} UP; the listener accepted {listener.connections()} connection(s)", flush=True)

        step("search by kind: tcp:// finds the TCP monitor only")
        self.type("#filter-q", "tcp://")
        self.wait(lambda d: d.find_element(By.ID, "monitor-table").get_attribute("data-complete") == "true"
                  and d.find_elements(By.CSS_SELECTOR, row)
                  and len(d.find_elements(By.CSS_SELECTOR, ".vrow:not([hidden])")) == 1,
                  message="the search for tcp:// did not list exactly the TCP monitor")

        step("edit the TCP monitor: its values are loaded, a change is saved")
        d.get(f"{self.base}/#/monitors/{tcp_id}/edit")
        self.wait(lambda d: d.find_element(By.ID, "monitor-form").get_attribute("data-loaded") == "true",
                  message="the edit form did not load")
        assert self.form_kind_state()["kind"] == "tcp"
        assert self.find("#mf-host").get_attribute("value") == "127.0.0.1"
        assert self.find("#mf-port").get_attribute("value") == str(listener.port)
        assert self.find("#mf-expect").get_attribute("value") == "220 lookout-browser"
        assert self.find("#mf-send").get_attribute("value") == "QUIT\\r\\n", self.find("#mf-send").get_attribute("value")
        assert self.find("#mf-name").get_attribute("value") == "Browser TCP"
        assert not self.find("#mf-url").is_displayed()
        self.type("#mf-interval", "2")
        self.find("#mf-submit").click()
        self.wait(lambda d: d.current_url.endswith(f"#/monitors/{tcp_id}"), message="no detail after saving")
        self.wait(lambda d: (self.text_of("#detail-url") or "") == f"{target} · every 2 s",
                  message=f"the change was not saved: {self.text_of('#detail-url')!r}")

        step("edit it into a DNS monitor: the kind changes, the DNS fields are saved and loaded again")
        # The server is a loopback port nothing answers on: the check stays on this machine.
        d.get(f"{self.base}/#/monitors/{tcp_id}/edit")
        self.wait(lambda d: d.find_element(By.ID, "monitor-form").get_attribute("data-loaded") == "true",
                  message="the edit form did not load")
        d.execute_script("document.querySelector('#monitor-form input[name=type]:checked').focus();")
        self.press(Keys.ARROW_RIGHT)  # tcp -> dns
        self.wait(lambda d: self.form_kind_state()["kind"] == "dns", message="the arrow key did not pick dns")
        self.type("#mf-dns-name", "mail.example.test")
        Select(self.find("#mf-record-type")).select_by_visible_text("MX")
        self.type("#mf-server", "127.0.0.1:1")
        self.type("#mf-expected-values", "10 mx1.example.test\n20 mx2.example.test")
        self.find("#mf-submit").click()
        dns_target = "dns MX mail.example.test @ 127.0.0.1:1"
        self.wait(lambda d: (self.text_of("#detail-url") or "") == f"{dns_target} · every 2 s",
                  message=f"the kind change was not saved: {self.text_of('#detail-url')!r}")
        d.get(f"{self.base}/#/monitors/{tcp_id}/edit")
        self.wait(lambda d: d.find_element(By.ID, "monitor-form").get_attribute("data-loaded") == "true",
                  message="the edit form did not load")
        assert self.form_kind_state()["kind"] == "dns"
        assert self.find("#mf-record-type").get_attribute("value") == "MX"
        assert self.find("#mf-server").get_attribute("value") == "127.0.0.1:1"
        assert self.find("#mf-expected-values").get_attribute("value") == "10 mx1.example.test\n20 mx2.example.test"
        assert not self.find("#mf-host").is_displayed() and not self.find("#mf-url").is_displayed()
        self.click('a[data-nav="monitors"]')
        self.wait(lambda d: self.text_of(f"{row} .url") == dns_target,
                  message=f"the row does not show {dns_target}: {self.text_of(f'{row} .url')!r}")

    def run(self):
        d = self.driver
        email = f"browser-{int(time.time() * 1000)}@example.com"
        password = "correct horse battery"

        step("sign up")
        d.get(self.base + "/")
        self.visible("#signin-form")
        self.click('a[href="#/signup"]')
        self.type("#signup-name", "Browser Test")
        self.type("#signup-email", email)
        self.type("#signup-password", password)
        self.find("#signup-form button[type=submit]").click()
        self.wait(lambda d: d.find_element(By.ID, "monitor-table").get_attribute("data-complete") == "true",
                  message="the empty monitor list did not load")
        self.visible("#monitor-empty")
        assert self.text_of("#user-email") == "Browser Test", self.text_of("#user-email")

        step("live updates over the WebSocket, not polling")
        self.wait(lambda d: self.live_mode()[0] == "live", message=f"not live: {self.live_mode()}")
        assert self.live_mode()[1] == "Live updates over WebSocket", self.live_mode()
        assert self.text_of("#live .live-text") == "Live", self.text_of("#live .live-text")

        step("create a monitor: a bad URL first, shown next to the field")
        self.click("#new-monitor")
        self.type("#mf-name", "Browser target")
        self.type("#mf-url", "ftp://not-a-web-address")
        self.type("#mf-interval", "1")
        self.find("#mf-submit").click()
        error = self.visible("#mf-url-error")
        assert error.text.strip(), "the field error is empty"
        url_input = self.find("#mf-url")
        assert url_input.get_attribute("aria-invalid") == "true"
        assert "mf-url-error" in (url_input.get_attribute("aria-describedby") or "")
        assert d.switch_to.active_element == url_input, "focus did not move to the field at fault"
        print(f"  inline error: {error.text!r}", flush=True)

        self.type("#mf-url", self.target_url)
        self.find("#mf-submit").click()
        self.wait(lambda d: "#/monitors/" in d.current_url and d.current_url.rstrip("/").split("/")[-1].isdigit(),
                  message="no detail page after creating")
        monitor_id = d.current_url.rstrip("/").split("/")[-1]
        assert not d.find_elements(By.CSS_SELECTOR, ".field-error"), "errors left after a good submit"
        self.wait(lambda d: self.text_of("#detail-name") == "Browser target", message="detail did not load")

        step("the list shows it UP")
        self.click('a[data-nav="monitors"]')
        row = f'.vrow[data-id="{monitor_id}"]:not([hidden])'
        self.wait(lambda d: self.text_of(f"{row} .badge") == "Up", timeout=60, message="the monitor never showed UP")
        self.wait(lambda d: self.text_of(f"{row} .c-latency") not in (None, "", "–"), message="no latency shown")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f"{row} .spark path"), timeout=30, message="no sparkline")

        step("the target stops: the row turns DOWN live, over /ws, without a reload")
        assert self.live_mode()[0] == "live", self.live_mode()
        marker = d.execute_script("window.__notReloaded = true; return location.href;")
        d.execute_script(HOLD_REQUESTS)
        print("STOP-TARGET", flush=True)
        answer = sys.stdin.readline().strip()
        assert answer == "STOPPED", f"the test answered {answer!r}"
        started = time.monotonic()
        self.wait(lambda d: self.text_of(f"{row} .badge") == "Down", timeout=60, message="the row never turned DOWN")
        print(f"  DOWN on screen {time.monotonic() - started:.1f} s after the target stopped, "
              f"{d.execute_script('return window.__heldRequests;')} REST request(s) held meanwhile", flush=True)
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f"{row} .spark path.spark-fail"), timeout=30,
                  message="the sparkline shows no failed check")
        assert self.live_mode()[0] == "live", self.live_mode()
        assert d.execute_script("return window.__notReloaded === true;"), "the page was reloaded"
        assert d.current_url == marker
        d.execute_script("window.__releaseRequests();")
        summary = self.text_of("#monitor-summary")
        assert "1 down" in summary, summary

        step("filters: DOWN shows it, UP does not")
        status = Select(self.find("#filter-status"))
        status.select_by_value("DOWN")
        self.wait(lambda d: d.find_element(By.ID, "monitor-table").get_attribute("data-complete") == "true"
                  and d.find_elements(By.CSS_SELECTOR, row), message="status=DOWN lost the monitor")
        assert "status=DOWN" in d.current_url, d.current_url
        status.select_by_value("UP")
        self.wait(lambda d: d.find_element(By.ID, "monitor-table").get_attribute("data-complete") == "true"
                  and not d.find_elements(By.CSS_SELECTOR, row), message="status=UP still lists it")
        status.select_by_value("")
        self.type("#filter-q", "browser")
        # The search answers after a debounce and empties the list while it loads: wait for its
        # own complete answer, not the row of the list shown before typing.
        self.wait(lambda d: "q=browser" in d.current_url
                  and d.find_element(By.ID, "monitor-table").get_attribute("data-complete") == "true"
                  and d.find_elements(By.CSS_SELECTOR, row), message="search lost the monitor")

        step("the detail: chart by phase, failed checks, uptime, incident")
        self.click(f"{row} a.name")
        self.wait(lambda d: self.text_of("#detail-status") == "Down", message="the detail is not DOWN")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail-chart svg.phase-chart path.phase-connect"),
                  message="no connect phase in the chart")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail-chart svg.phase-chart path.phase-failed"),
                  message="no failed check in the chart")
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#detail-checks tbody tr")) >= 3, message="no checks table")
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#detail-incidents .incident-open"), timeout=30,
                  message="no open incident listed")
        # Live updates redraw the chart: read its last tooltip inside a wait, where an element
        # made stale by a redraw is looked up again.
        self.wait(lambda d: any("Total" in tip.get_attribute("textContent")
                                for tip in d.find_elements(By.CSS_SELECTOR, "#detail-chart .chart-hit title")[-1:]),
                  message="bars have no tooltip")

        step("the kind picker: arrow keys switch kinds, each shows its own labelled fields only")
        listener = BannerListener()
        try:
            self.tcp_monitor(listener)
        finally:
            listener.stop()

        step("the channel form shows its type's fields only, the others out of the Tab order")
        self.click('a[data-nav="channels"]')
        Select(self.visible("#cf-type")).select_by_value("webhook")
        self.wait(lambda d: self.find("#cf-url").is_displayed(), message="the webhook URL field is not shown")
        assert not self.find("#cf-to").is_displayed() and not self.find("#cf-to").is_enabled()
        assert self.find("#cf-url").is_enabled() and not self.find("#cf-bot").is_enabled()

        step("a status page from the editor, then its public page")
        self.click('a[data-nav="status-pages"]')
        self.click('a[href="#/status-pages/new"]')
        self.type("#pf-title", "Browser Status")
        slug = self.find("#pf-slug").get_attribute("value")
        assert slug == "browser-status", slug
        search = self.visible("#pf-picker input[type=search]")
        self.visible('#pf-picker button[aria-label="Add Browser TCP"]')  # before typing: every monitor
        search.send_keys("Browser target")
        # The answer to the typed words, not the list shown before typing: "Browser TCP" gone,
        # "Browser target" offered (two words: the query string carries the space as "+").
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, '#pf-picker button[aria-label="Add Browser TCP"]')
                  and d.find_elements(By.CSS_SELECTOR, '#pf-picker button[aria-label="Add Browser target"]'),
                  message="the search for two words did not narrow the list to the one monitor")
        self.click('#pf-picker button[aria-label="Add Browser target"]')
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f'#pf-selected li[data-id="{monitor_id}"]'))
        self.find("#pf-submit").click()
        self.wait(lambda d: "#/status-pages/" in d.current_url and d.current_url.split("/")[-1].isdigit(),
                  message="no editor after creating the page")
        link = self.visible("#pf-public")
        assert link.get_attribute("href").endswith(f"/status/{slug}")

        d.get(f"{self.base}/status/{slug}")
        self.wait(lambda d: self.text_of("#page-title") == "Browser Status")
        self.wait(lambda d: self.text_of(".service .service-name") == "Browser target")
        self.wait(lambda d: self.text_of(".service .service-status") == "Down", message="public page not DOWN")
        assert self.text_of("#overall-text") == "Major outage", self.text_of("#overall-text")
        assert len(d.find_elements(By.CSS_SELECTOR, ".service svg.bars rect")) == 90
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#incidents .incident-ongoing"), message="no incident")
        self.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-refreshed"),
                  message="the page did not refresh itself from the public JSON")

        step("the public page as served, without JavaScript")
        with urllib.request.urlopen(f"{self.base}/status/{slug}") as response:
            html = response.read().decode()
            assert response.headers["Cache-Control"] == "public, max-age=30"
            assert response.headers["ETag"]
        assert "Browser target" in html and "Major outage" in html and "Down" in html
        assert self.target_url not in html and "127.0.0.1" not in html, "the public page shows the URL"
        assert "data-id" not in html and "/monitors/" not in html, "the public page carries an id"

        step("sign out and in again")
        d.get(self.base + "/#/monitors")
        self.click("#sign-out")
        self.visible("#signin-form")
        self.type("#signin-email", email)
        self.type("#signin-password", password)
        self.find("#signin-form button[type=submit]").click()
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, row), message="list after sign-in")
        self.collect_console()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--target-url", required=True)
    args = parser.parse_args()
    driver = make_driver()
    scenario = Scenario(driver, args.base_url, args.target_url)
    failed = False
    try:
        scenario.run()
    except (AssertionError, TimeoutException, Exception) as error:  # noqa: B014 - report any failure
        failed = True
        print(f"FAILED: {type(error).__name__}: {error}", flush=True)
        traceback.print_exc(file=sys.stdout)
        try:
            print(f"page: {driver.current_url}", flush=True)
            print(f"main: {driver.find_element(By.ID, 'main').text[:2000]}", flush=True)
        except Exception:  # noqa: BLE001
            pass
    try:
        scenario.collect_console()
    except Exception:  # noqa: BLE001
        pass
    unexpected = [e for e in scenario.console if not any(rule(e) for rule in EXPECTED)]
    for entry in scenario.console:
        tag = "expected" if entry not in unexpected else "UNEXPECTED"
        print(f"console ({tag}): {json.dumps(entry)}", flush=True)
    driver.quit()
    if unexpected:
        print(f"FAILED: {len(unexpected)} unexpected console error(s)", flush=True)
        failed = True
    if not failed:
        print("PASSED", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
