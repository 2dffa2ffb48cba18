"""The analyst's path in a real browser (Debian's Chromium driven by Playwright) against `tessera up`:
open the designer, change a parameter, preview a node's data, run the workflow, deploy the model and
call it from the try-it form. Screenshots go to test-output/studio/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from component_store.store import ComponentStore
from pipelines.local_runner import LocalRunner
from tessera.ports import free_port, port_free
from tessera.workspace import Workspace

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "studio"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


LAB_PORT = free_port()


@pytest.fixture(scope="module")
def studio_url(studio_workspace: Workspace) -> Iterator[str]:
    port = free_port()
    tessera = Path(sys.executable).parent / "tessera"
    process = subprocess.Popen(
        [str(tessera), "up", "--port", str(port), "--mlflow-port", "0", "--lab", "--lab-port", str(LAB_PORT)],
        cwd=studio_workspace.root, env=os.environ | {"TESSERA_HOME": str(studio_workspace.root)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"tessera up did not answer: {process.stdout.read().decode() if process.stdout else ''}")
    yield url
    process.terminate()
    printed = process.communicate(timeout=30)[0].decode()
    deadline = time.monotonic() + 15
    while not (port_free(port) and port_free(LAB_PORT)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert port_free(port), "stopping `tessera up` stops the studio it started"
    assert port_free(LAB_PORT), "… and JupyterLab"
    assert f"JupyterLab     http://127.0.0.1:{LAB_PORT}/lab/tree/notebooks?token=" in printed, printed[-2000:]


def test_jupyterlab_runs_beside_the_studio_behind_a_token(studio_url: str, studio_workspace: Workspace) -> None:
    base = f"http://127.0.0.1:{LAB_PORT}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        pytest.fail("JupyterLab did not answer")
    assert httpx.get(f"{base}/api/contents/notebooks", timeout=10).status_code == 403, "no token, no access"
    token = _lab_token(studio_workspace)
    listing = httpx.get(f"{base}/api/contents/notebooks", params={"token": token}, timeout=10)
    assert listing.status_code == 200
    assert {item["name"] for item in listing.json()["content"]} >= {
        "01_explore_a_run.ipynb",
        "04_query_an_endpoint.ipynb",
    }
    kernels = httpx.get(f"{base}/api/kernelspecs", params={"token": token}, timeout=10).json()
    assert kernels["default"] == "python3"


def _lab_token(workspace: Workspace) -> str:
    """The token `tessera up` gave JupyterLab, read from the server's own runtime file."""
    import json

    from jupyter_core.paths import jupyter_runtime_dir

    for info in Path(jupyter_runtime_dir()).glob("jpserver-*.json"):
        server = json.loads(info.read_text())
        if server.get("port") == LAB_PORT:
            return str(server["token"])
    pytest.fail("no JupyterLab runtime file for the port tessera up started it on")


@pytest.fixture(scope="module")
def browser_page(studio_url: str):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def settle(page) -> None:
    """Wait until the app has finished its current rerun (a click during one can be dropped)."""
    page.wait_for_timeout(500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=120_000)
    page.wait_for_timeout(500)


def test_analyst_builds_previews_runs_deploys_and_calls_from_the_browser(
    browser_page, studio_url: str, studio_workspace: Workspace
) -> None:
    try:
        analyst_path(browser_page, studio_url, studio_workspace)
    except Exception:
        browser_page.screenshot(path=SHOTS / "failure.png")
        (SHOTS / "failure.txt").write_text(browser_page.locator("[data-testid='stMain']").first.inner_text())
        raise


def analyst_path(page, studio_url: str, studio_workspace: Workspace) -> None:
    page.goto(f"{studio_url}/designer?workflow=risk/cheater_detection")
    page.get_by_role("heading", name="Designer").wait_for()
    canvas = page.frame_locator("iframe[title*='streamlit_flow']")
    canvas.get_by_text("deploy_endpoint@1.1.0").wait_for()
    page.screenshot(path=SHOTS / "01-designer.png", full_page=True)

    settle(page)
    page.get_by_label("seed", exact=True).fill("11")
    page.get_by_role("button", name="Apply parameters").click()
    path = studio_workspace.find_workflow("cheater_detection")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        players = next(n for n in yaml.safe_load(path.read_text())["nodes"] if n["id"] == "players")
        if players["params"].get("seed") == 11:
            break
        time.sleep(0.2)
    assert players["params"]["seed"] == 11, "the form's value reached the workflow file"

    settle(page)
    page.get_by_role("tab", name="Data").click()  # the step panel's tabs
    page.get_by_role("button", name="Preview players").click()
    page.get_by_text(re.compile(r"^500 rows × \d+ columns$")).wait_for(timeout=180_000)
    page.screenshot(path=SHOTS / "02-preview.png", full_page=True)

    runs = LocalRunner(studio_workspace, ComponentStore()).runs
    before = {r.id for r in runs.recent(limit=100)}
    settle(page)
    page.get_by_role("button", name="▶ Run workflow").click()  # the run form opens from the top bar
    page.get_by_label("players", exact=True).fill("1500")
    page.get_by_label("n_trials", exact=True).fill("3")
    page.get_by_role("button", name="Run", exact=True).click()
    deadline = time.monotonic() + 60
    while not (started := [r for r in runs.recent(limit=100) if r.id not in before]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [r.params["players"] for r in started] == [1500], "the Run button started one run with the form's values"
    page.get_by_text(f"Run {started[0].id} succeeded").wait_for(timeout=300_000)
    assert {n.status for n in runs.get(started[0].id).nodes} == {"succeeded"}
    page.screenshot(path=SHOTS / "03-run-succeeded.png", full_page=True)

    page.goto(f"{studio_url}/runs?run={started[0].id}")  # the run as pictures: its DAG and its timeline
    page.get_by_text("seconds from the run's start").wait_for(timeout=60_000)
    picture = page.frame_locator("iframe[title*='streamlit_flow']").first.get_by_text("tune", exact=True)
    picture.wait_for(timeout=60_000)
    page.locator("iframe[title*='streamlit_flow']").first.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "03-run-pictures.png", full_page=True)

    page.goto(f"{studio_url}/endpoints")
    page.get_by_text("Deploy a model version").click()
    settle(page)
    page.get_by_label("Endpoint name").fill("browser-api")
    page.get_by_role("button", name="Deploy endpoint", exact=True).click()
    page.get_by_text(re.compile(r"^browser-api serves cheater-detector/\d+ 100%")).wait_for(timeout=120_000)
    page.screenshot(path=SHOTS / "04-deployed.png", full_page=True)

    settle(page)  # the endpoint just deployed is the one shown
    page.get_by_role("button", name="Send request").click()
    page.get_by_text(re.compile(r"^answered by version \d+")).wait_for(timeout=60_000)
    page.screenshot(path=SHOTS / "05-try-it.png", full_page=True)

    # traffic from a population that moved, then the Monitoring page shows it drift
    tessera = Path(sys.executable).parent / "tessera"
    sent = subprocess.run(
        [str(tessera), "demo", "traffic", "browser-api", "--rows", "400", "--batch", "100", "--shift"],
        cwd=studio_workspace.root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    time.sleep(3)  # the endpoint's log writer flushes every 2 s
    page.goto(f"{studio_url}/monitoring")
    page.get_by_role("heading", name="Monitoring").wait_for()
    settle(page)
    box = page.get_by_label("Endpoint", exact=True)
    box.click()
    box.fill("browser-api")
    box.press("Enter")
    page.get_by_text(re.compile(r"of columns drifted")).wait_for(timeout=120_000)
    page.get_by_text("Reference vs current").wait_for()
    page.screenshot(path=SHOTS / "06-monitoring.png", full_page=True)

    # how the served version came to be, as a picture, with the endpoint just deployed on it
    page.goto(f"{studio_url}/models")
    page.get_by_role("heading", name="Lineage").wait_for()
    lineage = page.locator("svg").filter(has_text="endpoint browser-api")
    lineage.wait_for(timeout=60_000)
    lineage.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "07-lineage.png", full_page=True)
    drawn = lineage.text_content() or ""
    for box in ("players · sample_dataset@", "step tune", "MLflow run", "model cheater-detector v"):
        assert box in drawn, drawn


SEVEN_STEPS = [
    "sample_dataset", "validate_schema", "fill_missing", "encode_categorical", "train_test_split", "train_classifier",
    "evaluate_classifier",
]  # fmt: skip
CHAIN = {  # what drawing an edge from the first step to the second binds
    ("sample_dataset", "validate_schema"): ("validate_schema", "table", "sample_dataset.table"),
    ("validate_schema", "fill_missing"): ("fill_missing", "table", "validate_schema.validated"),
    ("fill_missing", "encode_categorical"): ("encode_categorical", "table", "fill_missing.filled"),
    ("encode_categorical", "train_test_split"): ("train_test_split", "table", "encode_categorical.encoded"),
    ("train_test_split", "train_classifier"): ("train_classifier", "train", "train_test_split.train"),
    ("train_classifier", "evaluate_classifier"): ("evaluate_classifier", "model", "train_classifier.model"),
    ("train_test_split", "evaluate_classifier"): ("evaluate_classifier", "test", "train_test_split.test"),
}


class WorkflowFileWatch:
    """Reads a workflow file every 20 ms in a thread and remembers every step and binding it ever saw."""

    def __init__(self, path: Path):
        import threading

        self.path, self.snapshots, self.stop = path, [], threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                nodes = yaml.safe_load(self.path.read_text()).get("nodes") or []
            except (OSError, yaml.YAMLError, AttributeError):
                nodes = None
            if nodes is not None:
                bindings = {(n["id"], k): v for n in nodes for k, v in (n.get("inputs") or {}).items()}
                snapshot = ([n["id"] for n in nodes], bindings)
                if not self.snapshots or self.snapshots[-1] != snapshot:
                    self.snapshots.append(snapshot)
            self.stop.wait(0.02)

    def latest(self) -> tuple[list[str], dict]:
        return self.snapshots[-1] if self.snapshots else ([], {})

    def wait_for(self, check, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(*self.latest()):
                return True
            time.sleep(0.05)
        return False

    def nothing_was_undone(self) -> list[str]:
        """Every step, once saved, stays; every binding, once saved, keeps its source."""
        problems, seen_nodes, seen_bindings = [], set(), {}
        for nodes, bindings in self.snapshots:
            problems += [f"step {n} was removed" for n in seen_nodes - set(nodes)]
            problems += [
                f"{k} changed from {v} to {bindings.get(k)}" for k, v in seen_bindings.items() if bindings.get(k) != v
            ]
            seen_nodes |= set(nodes)
            seen_bindings |= bindings
        return problems

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def add_from_palette(page, component: str) -> None:
    box = page.get_by_label("Component", exact=True)
    if not box.is_visible():  # the palette opens over the step panel; it stays open while steps are added
        page.get_by_role("button", name=re.compile("Add a step")).click()
    box.click()
    box.fill(component)
    box.press("Enter")
    page.get_by_role("button", name="Add to workflow").click()


def draw_edge(page, source: str, target: str) -> None:
    canvas = page.frame_locator("iframe[title*='streamlit_flow']")
    start = canvas.locator(f".react-flow__node[data-id='{source}'] .react-flow__handle.source").bounding_box()
    end = canvas.locator(f".react-flow__node[data-id='{target}'] .react-flow__handle.target").bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


@pytest.mark.parametrize("pace", ["full speed", "full speed again", "a slow hand"])
def test_a_seven_step_workflow_built_on_the_canvas_keeps_every_step_and_binding(
    browser_page, studio_url: str, studio_workspace: Workspace, pace: str
) -> None:
    """The issue's bug: a stale canvas picture deleted steps just added and reversed bindings."""
    from studio.workflows import new_workflow

    page, name = browser_page, f"built_{pace.replace(' ', '_')}"
    path = new_workflow(studio_workspace, "risk", name, "blank")
    watch = WorkflowFileWatch(path)
    pause = 800 if pace == "a slow hand" else 0
    try:
        page.goto(f"{studio_url}/designer?workflow=risk/{name}")
        page.get_by_text("Add a first step: press Add a step, above.").wait_for()
        settle(page)
        for count, component in enumerate(SEVEN_STEPS, start=1):
            add_from_palette(page, component)
            page.wait_for_timeout(pause)
            assert watch.wait_for(lambda nodes, _, n=count: len(nodes) >= n), (
                f"{component} was not added: {watch.latest()}"
            )
        canvas = page.frame_locator("iframe[title*='streamlit_flow']")
        canvas.locator(".react-flow__node[data-id='evaluate_classifier']").wait_for()
        settle(page)
        page.screenshot(path=SHOTS / f"10-built-{name}.png", full_page=True)
        for (source, target), (node, wanted, bound) in CHAIN.items():
            draw_edge(page, source, target)
            canvas.locator(f".react-flow__node[data-id='{target}']").click()  # its inputs open in the side panel
            page.wait_for_timeout(pause)
            made = watch.wait_for(lambda _, bindings, k=(node, wanted), v=bound: bindings.get(k) == v)
            if not made:
                page.screenshot(path=SHOTS / f"failed-edge-{name}.png", full_page=True)
            assert made, f"drawing {source} → {target} did not bind {node}.{wanted}: {watch.latest()[1]}"
        settle(page)
        page.wait_for_timeout(2000)  # late echoes of the canvas, if any, come in now
        page.screenshot(path=SHOTS / f"11-connected-{name}.png", full_page=True)
    finally:
        watch.close()
    nodes, bindings = watch.latest()
    assert watch.nothing_was_undone() == [], "\n".join(map(str, watch.snapshots[-6:]))
    assert nodes == SEVEN_STEPS
    assert bindings == {(node, wanted): bound for node, wanted, bound in CHAIN.values()}


@pytest.mark.parametrize("size", [(1500, 1000), (1280, 800)])
def test_the_designer_puts_the_canvas_first(browser_page, studio_url: str, size: tuple[int, int]) -> None:
    """Canvas at least 65 % of the page's width (on a 1500-pixel screen), node names readable, Run in view."""
    page = browser_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    try:
        page.goto(f"{studio_url}/designer?workflow=risk/cheater_detection")
        canvas = page.frame_locator("iframe[title*='streamlit_flow']")
        canvas.get_by_text("deploy_endpoint@1.1.0").wait_for()
        settle(page)
        page.screenshot(path=SHOTS / f"20-designer-{width}x{height}.png")
        frame = page.locator("iframe[title*='streamlit_flow']").bounding_box()
        share = frame["width"] / width
        if width >= 1500:
            assert share >= 0.65, f"the canvas takes {share:.0%} of the page's width"
        assert frame["y"] < height, "the canvas starts in the first viewport"
        run = page.get_by_role("button", name="▶ Run workflow").bounding_box()
        assert run["y"] + run["height"] <= height, "Run is in the first viewport"
        zoom = canvas.locator(".react-flow__viewport").evaluate("v => new DOMMatrix(getComputedStyle(v).transform).a")
        if width >= 1500:
            assert 13 * zoom >= 8.5, f"step names drawn {13 * zoom:.1f} pixels high at the default zoom"
        page.get_by_role("tab", name="Data").click()  # the selected step's data, one click away
        shown = page.locator("[data-testid='stTabPanel']:visible").first.bounding_box()
        scrolled = page.evaluate("[...document.querySelectorAll('*')].some(e => e.scrollTop > 0) || window.scrollY > 0")
        assert not scrolled and shown["y"] + 200 <= height, (
            f"the Data tab's sample starts in the first viewport (scrolled: {scrolled}, at {shown})"
        )
        page.screenshot(path=SHOTS / f"21-designer-data-tab-{width}x{height}.png")
        clipped = canvas.locator(".react-flow__node").evaluate_all(
            """nodes => nodes.filter(n => [...n.querySelectorAll('p')].some(p => p.scrollWidth > p.clientWidth + 1
                || p.getBoundingClientRect().right > n.getBoundingClientRect().right + 1)).map(n => n.dataset.id)"""
        )
        assert clipped == [], f"node labels clipped: {clipped}"
    finally:
        page.set_viewport_size({"width": 1600, "height": 1200})


PAGE_PATHS = ["", "store", "designer", "runs", "models", "endpoints", "monitoring", "tuning"]


@pytest.mark.parametrize("size", [(1500, 1000), (1280, 800)])
def test_every_page_draws_without_an_error_at_both_screen_sizes(
    browser_page, studio_url: str, size: tuple[int, int]
) -> None:
    """A screenshot of every page at each size goes to test-output/studio/ for review."""
    page = browser_page
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    try:
        for path in PAGE_PATHS:
            page.goto(f"{studio_url}/{path}")
            heading = page.locator("h1").first
            heading.wait_for(timeout=60_000)
            settle(page)
            assert heading.bounding_box()["y"] < height, f"/{path}: its title is in the first viewport"
            assert page.locator("[data-testid='stException']").count() == 0, f"/{path} shows an exception"
            page.screenshot(path=SHOTS / f"30-page-{path or 'home'}-{width}x{height}.png")
    finally:
        page.set_viewport_size({"width": 1600, "height": 1200})
