import pytest

from component_store.decorator import component
from component_store.publish import publish, unpublished_changes
from component_store.store import ComponentStore
from component_store.vet import vet_component
from tessera.errors import PublishRefused, VetFailed


def define(version: str, body: str = "pass", documented: tuple[str, ...] = ("table", "rows")):
    """Write a toy component module to disk (so inspect can read its source) and import it."""
    args = "".join(f"        {name}: the {name}.\n" for name in documented)
    source = (
        "from kfp.dsl import Dataset, Input, Output\n"
        "from component_store.decorator import component\n\n"
        f'@component(name="toy", version="{version}", category="transform")\n'
        "def toy(table: Input[Dataset], rows: int = 5):\n"
        '    """Do a toy thing.\n\n    Args:\n' + args + '    """\n'
        f"    {body}\n"
    )
    path = TOY_DIR / f"toy_{version.replace('.', '_')}_{abs(hash(body)) % 10_000}.py"
    path.write_text(source)
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace["toy"]


TOY_DIR = None


@pytest.fixture(autouse=True)
def toy_dir(tmp_path):
    global TOY_DIR
    TOY_DIR = tmp_path
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_toy.py").write_text("def test_toy_runs():\n    pass\n")
    return tests


def test_publish_freezes_then_is_idempotent(tmp_store, toy_dir):
    toy = define("1.0.0")
    first = publish(toy, tmp_store, toy_dir)
    assert first.outcome == "published" and first.path.exists()
    assert tmp_store.get("toy", "1.0.0").digest == first.digest
    again = publish(define("1.0.0"), tmp_store, toy_dir)
    assert again.outcome == "unchanged" and again.digest == first.digest


def test_changed_code_under_the_same_version_is_refused(tmp_store, toy_dir):
    publish(define("1.0.0"), tmp_store, toy_dir)
    frozen = (tmp_store.root / "toy" / "1.0.0.yaml").read_text()
    with pytest.raises(PublishRefused, match=r"toy@1.0.0 is already published .* \(e.g. to 1.0.1\)"):
        publish(define("1.0.0", body="print(rows)"), tmp_store, toy_dir)
    assert (tmp_store.root / "toy" / "1.0.0.yaml").read_text() == frozen
    bumped = publish(define("1.0.1", body="print(rows)"), tmp_store, toy_dir)
    assert bumped.outcome == "published"
    assert [s.version for s in tmp_store.versions("toy")] == ["1.0.0", "1.0.1"]


def test_every_source_component_matches_its_published_version(store):
    assert unpublished_changes(store) == [], "bump the version and run: tessera components publish NAME"
    assert set(store.source_names()) <= set(store.names()), "publish new components: tessera components publish --all"


def test_every_builtin_component_passes_vetting(store):
    from tests.conftest import REPO

    for name in store.source_names():
        assert vet_component(store.source(name), REPO / "tests" / "component_store") == [], name


def test_vet_lists_every_problem(toy_dir):
    body = "import os\n    path = '/tmp/x.csv'\n    open(path, 'w').write('x')\n    pd.DataFrame().to_csv(path)"
    toy = define("1.0.0", body=body, documented=("table",))
    problems = vet_component(toy, toy_dir.parent / "empty")
    text = "\n".join(problems)
    assert "'rows' has no description" in text
    assert "uses 'pd' from outside its body" in text
    assert "open(path, 'w')" in text and "writes outside the declared outputs" in text
    assert "to_csv" in text
    assert "no test runs it" in text
    with pytest.raises(VetFailed, match="failed vetting"):
        publish(toy, ComponentStore(toy_dir / "store"), toy_dir.parent / "empty")


def test_vet_allows_writes_under_outputs(toy_dir):
    @component(name="writer", version="1.0.0", category="transform")
    def writer(report: Output[Markdown]):
        """Write a report.

        Args:
            report: the report.
        """
        import os

        target = os.path.join(report.path)
        with open(target, "w") as handle:
            handle.write("ok")

    (toy_dir / "test_writer.py").write_text("def test_writer_writes():\n    pass\n")
    assert vet_component(writer, toy_dir) == []


from kfp.dsl import Markdown, Output  # noqa: E402
