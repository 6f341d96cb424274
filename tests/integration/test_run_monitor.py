"""`gainctl run --serve` on a video, looked at in a real browser: verdict, reject gallery, metrics = journal.

The browser is the system's chromium (Debian's package, which `make setup` installs as root),
driven by Playwright; no browser is downloaded. Without either, the test skips and says why.
``MONITOR_SCREENSHOT=docs/monitor.png`` also writes the README's screenshot there.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.tiny_bundle import build_tiny_bundle, write_video

FRAMES = 60
REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no chromium at {CHROMIUM}: `make setup` installs it with apt-get where it runs as root")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def start_run(tmp_path: Path) -> tuple[subprocess.Popen, str, Path]:
    """`gainctl run --serve 127.0.0.1:0` on a fresh bundle and video; (process, page URL, journal)."""
    bundle = build_tiny_bundle(tmp_path / "bundle")
    write_video(tmp_path / "line.avi", FRAMES)
    journal = tmp_path / "journal.jsonl"
    # Relative paths from the run's folder, so the page (and the README's screenshot) names no machine's folders.
    process = subprocess.Popen(
        [sys.executable, "-m", "gain_mtl", "run", "--model", bundle.name, "--source", "line.avi", "--backend", "onnxruntime",
         "--sink", f"journal:{journal.name}", "--serve", "127.0.0.1:0", "--serve-linger", "120"],
        cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            process.kill()
            pytest.fail(f"no monitor URL within 60 s; stderr so far: {''.join(seen)}")
        seen.append(line)
        found = re.search(r"monitor on (http://\S+)", line)
        if found:
            return process, found.group(1), journal


def metric_totals(url: str) -> tuple[dict[str, float], dict[str, float]]:
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url + "metrics", timeout=10).read().decode()
    decisions, faults = {}, {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gainctl_decisions_total":
                decisions[sample.labels["decision"]] = sample.value
            elif sample.name == "gainctl_faults_total":
                faults[sample.labels["reason"]] = sample.value
    return decisions, faults


def test_the_page_shows_the_line_and_metrics_equal_the_journal(browser, tmp_path: Path) -> None:
    process, url, journal = start_run(tmp_path)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_function("/^(ACCEPT|REJECT|FAULT)/.test(document.getElementById('verdict').textContent)",
                               timeout=30_000)
        page.wait_for_selector("#rejects button img", timeout=30_000)
        page.wait_for_function("document.getElementById('live').naturalWidth > 0", timeout=30_000)
        page.wait_for_function("[...document.querySelectorAll('#rejects img')].every(i => i.complete && i.naturalWidth > 0)",
                               timeout=30_000)
        page.wait_for_function(f"document.getElementById('count-accept').textContent !== '0'", timeout=30_000)
        page.screenshot(path=str(tmp_path / "monitor.png"), full_page=True)
        if os.environ.get("MONITOR_SCREENSHOT"):
            page.screenshot(path=os.environ["MONITOR_SCREENSHOT"], full_page=True)

        # The gallery keeps the last 20 rejects; the first thumbnail opens that frame with its heatmap.
        thumbs = page.locator("#rejects button")
        assert 0 < thumbs.count() <= 20
        thumbs.first.click()
        page.wait_for_function("document.getElementById('viewer-overlay').naturalWidth > 0", timeout=10_000)
        assert page.locator("#viewer").is_visible()
        assert page.locator("#viewer-title").text_content().startswith("Frame #")

        # At the end (the run is over, the monitor lingers): /metrics counts what the journal holds.
        page.wait_for_function("document.getElementById('health').textContent === 'the run has ended'", timeout=30_000)
        events = [json.loads(line) for line in journal.read_text().splitlines()]
        decided = Counter(e["decision"] for e in events if e["kind"] == "decision")
        fault_reasons = Counter(e["reason"] for e in events if e["kind"] == "decision" and e["decision"] == "fault")
        decisions, faults = metric_totals(url)
        assert sum(decided.values()) == FRAMES
        assert decisions == {kind: float(decided.get(kind, 0)) for kind in ("accept", "reject", "fault")}
        assert faults == {reason: float(n) for reason, n in fault_reasons.items()}
        page_counts = {kind: int(page.inner_text(f"#count-{kind}")) for kind in ("accept", "reject", "fault")}
        assert page_counts == {kind: decided.get(kind, 0) for kind in ("accept", "reject", "fault")}
        health = urllib.request.Request(url + "healthz")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(health, timeout=10)
        assert answer.value.code == 503 and "ended" in answer.value.read().decode()
    finally:
        process.send_signal(signal.SIGINT)  # ends the linger
        code = process.wait(timeout=30)
    assert code == 0
