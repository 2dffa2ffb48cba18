"""Models: registered versions with metrics and lineage, aliases, promote and roll back."""

from __future__ import annotations

import contextlib

import streamlit as st

from serving.serving_tags import ENDPOINTS_TAG
from studio import ui
from tessera.errors import TesseraError

st.title("Models")
registry = ui.models()
models = registry.list()
if not models:
    st.info("No registered model yet: run a workflow that ends in register_model (the demo does).")
    st.stop()
name = st.selectbox("Model", [m.name for m in models])
versions = registry.versions(name)
st.dataframe(
    [{"version": v.version, "aliases": ", ".join(v.aliases), **{k: round(x, 4) for k, x in v.metrics.items()},
      "served by": v.tags.get(ENDPOINTS_TAG, ""), "run": v.lineage.get("tessera.run_id", ""),
      "node": v.lineage.get("tessera.node", ""), "component": v.lineage.get("tessera.component", ""),
      "data": v.lineage.get("tessera.data_fingerprint", "")[:12]} for v in versions],
    width="stretch", hide_index=True,
)  # fmt: skip


def show_lineage() -> None:
    """How the chosen version came to be, as a picture (studio/lineage.py)."""
    import os

    from studio.lineage import model_lineage

    st.subheader("Lineage")
    chosen = st.selectbox("Version", [v.version for v in versions], key="lineage-version")
    version = next(v for v in versions if v.version == chosen)
    run = None
    if run_id := version.lineage.get("tessera.run_id"):
        try:
            run = ui.runner().runs.get(run_id)
        except TesseraError:
            st.caption(f"run {run_id} is no longer in this workspace's run records")
    mlflow_ui = os.environ.get("TESSERA_MLFLOW_UI", "")
    experiment_id = None
    if mlflow_ui and version.run_id:
        with contextlib.suppress(Exception):  # a run deleted from MLflow: no link to it, the rest stands
            experiment_id = registry.registry.client.get_run(version.run_id).info.experiment_id
    with ui.user_errors("list the endpoints"):
        endpoints = ui.endpoints().list()
    picture = model_lineage(version, run, endpoints, mlflow_ui, experiment_id)
    st.graphviz_chart(picture.to_dot(), width="stretch")
    links = [f"[{box.label.splitlines()[0]}]({box.link})" for box in picture.boxes if box.link]
    st.caption(" · ".join(links))


show_lineage()

promote_column, rollback_column = st.columns(2)
with promote_column, st.form("promote"):
    st.markdown("**Promote**")
    version = st.selectbox("Version", [v.version for v in versions])
    alias = st.text_input("Alias", value="champion")
    if st.form_submit_button("Promote"):
        with ui.user_errors(f"promote {name} {version}"):
            _, moved = registry.promote(name, version, alias.strip())
            st.success(f"{name}@{alias} → {version}" + "".join(f"; {e.name} now serves it" for e in moved))
with rollback_column, st.form("rollback"):
    st.markdown("**Roll back**")
    alias_back = st.text_input("Alias", value="champion", key="rollback-alias")
    if st.form_submit_button("Roll back"):
        with ui.user_errors(f"roll back {name}@{alias_back}"):
            info, _ = registry.rollback(name, alias_back.strip())
            st.success(f"{name}@{alias_back} → {info.version}")
