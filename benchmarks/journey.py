"""The analyst's journey in a real browser, in interactions and seconds: open the demo in the designer →
change a parameter → see the step's data → run the workflow → see the model → deploy it → try it.

    .venv/bin/python benchmarks/journey.py [--rounds 3] [--before PATH]

Each round starts `tessera up` on a fresh workspace with the demo (Chromium headless, 1500×1000), then
walks the journey: an interaction is a click or a typed value; a stage's seconds run from its first
interaction until its result shows (waits for the app to settle between stages are not counted); a
scroll is an interaction whose target was outside the 1500×1000 window (the browser scrolled to it).
During the run stage the CPU seconds the studio's server and Chromium take are measured too: on a
small machine, what they take while the designer follows a run is taken from the run.
`--before PATH` walks the same journey on another checkout of the studio (e.g. a `git worktree` of an
older commit), alternating with this one, so both see the same machine; the median of the rounds is
printed per stage.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.studio import CHROMIUM_FLAGS  # noqa: E402

STAGES = ["open the demo", "change a parameter", "see the step's data", "run", "see the model", "deploy", "try it"]


class Journey:
    """Times each stage and counts the interactions in it."""

    def __init__(self, page: Any):
        self.page = page
        self.seconds: dict[str, float] = {}
        self.interactions: dict[str, int] = {}
        self.scrolls: dict[str, int] = {}
        self.watching_cpu = 0.0  # CPU seconds of the studio's server and Chromium during the run stage
        self._stage = ""
        self._started = 0.0

    def stage(self, name: str) -> None:
        self._settle()
        self._stage, self._started = name, time.perf_counter()
        self.interactions[name] = self.scrolls[name] = 0

    def shown(self, locator: Any, timeout: float = 60_000) -> None:
        locator.wait_for(timeout=timeout)
        self.seconds[self._stage] = time.perf_counter() - self._started

    def ready(self) -> None:
        """Wait, counted, for the page the user just opened to finish drawing before using it."""
        self.page.wait_for_timeout(200)
        self.page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=120_000)

    def click(self, locator: Any) -> None:
        self._count(locator)
        locator.click()

    def fill(self, locator: Any, text: str) -> None:
        self._count(locator)
        locator.fill(text)

    def _count(self, locator: Any) -> None:
        self.interactions[self._stage] += 1
        locator.wait_for()
        box, window = locator.bounding_box(), self.page.viewport_size
        if box is None or box["y"] < 0 or box["y"] + box["height"] > window["height"]:
            self.scrolls[self._stage] += 1

    def _settle(self) -> None:
        """Between stages (not counted): the app finished its rerun, so a click is not dropped."""
        self.page.wait_for_timeout(300)
        self.page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=120_000)
        self.page.wait_for_timeout(300)


def walk(page: Any, url: str) -> Journey:
    journey = Journey(page)
    journey.stage("open the demo")
    page.goto(f"{url}/designer?workflow=risk/cheater_detection")
    journey.shown(page.frame_locator("iframe[title*='streamlit_flow']").get_by_text(re.compile(r"^deploy_endpoint@")))

    journey.stage("change a parameter")
    journey.fill(page.get_by_label("seed", exact=True), "11")
    journey.click(page.get_by_role("button", name="Apply parameters"))
    journey.shown(page.get_by_text("players: parameters saved"))

    journey.stage("see the step's data")
    if page.get_by_role("tab", name="Data").count():  # the step panel's tabs (2026-12-05 on)
        journey.click(page.get_by_role("tab", name="Data"))
    journey.click(page.get_by_role("button", name="Preview players"))
    journey.shown(page.get_by_text(re.compile(r"^500 rows × \d+ columns$")))

    journey.stage("run")
    cpu_before = studio_and_browser_cpu()
    if page.get_by_role("button", name="▶ Run workflow").count():  # the top bar's run form (2026-12-04 on)
        journey.click(page.get_by_role("button", name="▶ Run workflow"))
        journey.ready()
    journey.fill(page.get_by_label("players", exact=True), "1500")
    journey.fill(page.get_by_label("n_trials", exact=True), "3")
    journey.click(page.get_by_role("button", name="Run", exact=True))
    journey.shown(page.get_by_text(re.compile(r"^Run \S+ succeeded")).first, timeout=300_000)
    journey.watching_cpu = studio_and_browser_cpu() - cpu_before

    journey.stage("see the model")
    journey.click(page.get_by_role("link", name="Models"))
    journey.shown(page.get_by_label("Model", exact=True))  # the picker of registered models (none: a hint instead)

    journey.stage("deploy")
    journey.click(page.get_by_role("link", name="Endpoints"))
    page.get_by_role("heading", name="Endpoints").wait_for()
    journey.ready()
    journey.click(page.get_by_text("Deploy a model version"))
    journey.ready()
    journey.fill(page.get_by_label("Endpoint name"), "journey-api")
    journey.click(page.get_by_role("button", name="Deploy endpoint", exact=True))
    journey.shown(page.get_by_text(re.compile(r"^journey-api serves cheater-detector/\d+ 100%")), timeout=120_000)

    journey.stage("try it")
    journey.click(page.get_by_role("button", name="Send request"))
    journey.shown(page.get_by_text(re.compile(r"^answered by version \d+")), timeout=60_000)
    return journey


def studio_and_browser_cpu() -> float:
    """User and system CPU seconds so far of the Streamlit server and Chromium's processes."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            if "chrom" in (process.info["name"] or "") or "streamlit" in " ".join(process.info["cmdline"] or []):
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.Error:  # gone since it was listed
            continue
    return total


def one_round(studio_root: Path) -> Journey:
    from playwright.sync_api import sync_playwright

    from tessera.ports import free_port

    folder = Path(tempfile.mkdtemp(prefix="tessera-journey-"))
    port = free_port()
    (folder / "ws").mkdir()
    command = [sys.executable, "-m", "studio.cli", "up", "--demo", "--port", str(port), "--mlflow-port", "0"]
    env = os.environ | {"PYTHONPATH": str(studio_root)}  # that checkout's studio, this environment's packages
    server = subprocess.Popen(command, cwd=folder / "ws", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS
            )
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            deadline = time.monotonic() + 120
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            try:
                return walk(page, f"http://127.0.0.1:{port}")
            except Exception:
                page.screenshot(path=Path(tempfile.gettempdir()) / "journey-failure.png", full_page=True)
                raise
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(30)
        stop_processes_under(folder)  # the endpoints the round deployed (the demo's and the journey's)
        shutil.rmtree(folder, ignore_errors=True)


def stop_processes_under(folder: Path) -> None:
    """Kill every process whose command line names `folder` (model servers outlive the studio that
    deployed them; left running, a few rounds' servers fill this machine's memory)."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        try:
            if str(folder) in " ".join(process.info["cmdline"] or []):
                process.kill()
        except psutil.Error:
            continue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another checkout of the studio, walked alternately")
    args = parser.parse_args()
    studios = {"now": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    walked: dict[str, list[Journey]] = {label: [] for label in studios}
    for _ in range(args.rounds):
        for label, root in studios.items():
            walked[label].append(one_round(root))
    print(f"Analyst journey, Chromium 1500×1000, median of {args.rounds} rounds (interactions · scrolls · seconds)\n")
    print("| stage | " + " | ".join(studios) + " |")
    print("|---|" + "---:|" * len(studios))
    for stage in [*STAGES, "total"]:
        cells = []
        for journeys in walked.values():
            if stage == "total":
                clicks = statistics.median(sum(j.interactions.values()) for j in journeys)
                scrolls = statistics.median(sum(j.scrolls.values()) for j in journeys)
                seconds = statistics.median(sum(j.seconds.values()) for j in journeys)
            else:
                clicks = statistics.median(j.interactions[stage] for j in journeys)
                scrolls = statistics.median(j.scrolls[stage] for j in journeys)
                seconds = statistics.median(j.seconds[stage] for j in journeys)
            cells.append(f"{clicks:.0f} · {scrolls:.0f} · {seconds:.1f} s")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    cpu = [f"{statistics.median(j.watching_cpu for j in journeys):.1f} s" for journeys in walked.values()]
    print("| CPU of the studio and Chromium during the run | " + " | ".join(cpu) + " |")


if __name__ == "__main__":
    main()
