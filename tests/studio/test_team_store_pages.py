"""The team store in the studio (AppTest): a version in review is filtered, shown, approved by an approver's
button; the Designer's palette offers it once approved (review versions only behind the toggle)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from component_store.store import workspace_store
from tessera.workspace import load_workspace
from tests.studio.test_cli import tessera

pytestmark = pytest.mark.slow
SCREENS = Path(__file__).resolve().parents[2] / "studio" / "screens"
LEAD = "lead@risk.example"


@pytest.fixture
def team_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    env = {"TESSERA_USER": LEAD}
    assert tessera("init", "ws", "--demo", cwd=tmp_path, env=env).returncode == 0
    root = tmp_path / "ws"
    assert tessera("components", "new", "double_spend", "-c", "transform", cwd=root, env=env).returncode == 0
    published = tessera("components", "publish", "double_spend", "-m", "first cut", cwd=root, env=env)
    assert published.returncode == 0, published.stderr
    monkeypatch.setenv("TESSERA_HOME", str(root))
    monkeypatch.setenv("TESSERA_USER", LEAD)
    return root


def page(name: str, **query: str) -> AppTest:
    app = AppTest.from_file(str(SCREENS / f"{name}.py"), default_timeout=120)
    app.query_params.update(query)
    return app.run()


def test_an_approver_approves_in_the_store_page_and_the_palette_offers_it(team_workspace: Path) -> None:
    designer = page("designer", workflow="risk/player_features")
    palette = next(s for s in designer.selectbox if s.key == "palette-ref")
    assert "double_spend@1.0.0" not in palette.options, "a version in review is not offered by default"
    next(t for t in designer.toggle if t.key == "palette-review").set_value(True).run()
    assert "double_spend@1.0.0" in next(s for s in designer.selectbox if s.key == "palette-ref").options

    store_page = page("store")
    next(s for s in store_page.selectbox if s.label == "Store").select("team").run()
    next(s for s in store_page.selectbox if s.label == "Status").select("review").run()
    assert next(s for s in store_page.selectbox if s.label == "Details of").options == ["double_spend"]
    next(b for b in store_page.button if b.label == "Approve double_spend@1.0.0").click().run()
    assert not store_page.exception and not [e.value for e in store_page.error]
    info = workspace_store(load_workspace(team_workspace)).info("double_spend", "1.0.0")
    assert (info.status, info.approved_by) == ("approved", LEAD)

    designer = page("designer", workflow="risk/player_features")
    assert "double_spend@1.0.0" in next(s for s in designer.selectbox if s.key == "palette-ref").options
    next(t for t in designer.text_input if t.key == "palette-search").input("MULTIPLY").run()  # its summary, any case
    assert next(s for s in designer.selectbox if s.key == "palette-ref").options == ["double_spend@1.0.0"]
