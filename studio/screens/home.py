"""Home: the workspace at a glance, and new workflows."""

from __future__ import annotations

import streamlit as st

from studio import ui
from studio.workflows import TEMPLATES, new_workflow
from tessera.errors import TesseraError

workspace = ui.workspace()
st.title(f"Tessera · {workspace.config.name}")
st.caption(f"workspace {workspace.root} · tracking {workspace.tracking_uri()}")

workflows, runs_column = st.columns(2)
with workflows:
    st.subheader("Workflows")
    table = st.empty()  # filled after the form, so a workflow created just now is listed at once
    with st.form("new-workflow"):
        st.markdown("**New workflow**")
        project = st.text_input("Project", value=(workspace.projects() or ["default"])[0])
        name = st.text_input("Name", placeholder="churn_model")
        template = st.selectbox("Start from", list(TEMPLATES))
        submitted = st.form_submit_button("Create")
    ref = f"{project.strip()}/{name.strip()}"
    if submitted and ref == st.session_state.get("created-workflow"):
        # Enter in the name field submits the form already; the Create click that follows is not an error
        st.info(f"{ref} was just created: [open it in the Designer](designer?workflow={ref})")
    elif submitted:
        with ui.user_errors(f"create workflow '{name}'"):
            if not ui.may_use(project.strip()):
                raise TesseraError(f"You are not a member of project '{project.strip()}' (members in tessera.yaml)")
            path = new_workflow(workspace, project.strip(), name.strip(), template)
            st.session_state["created-workflow"] = ref
            st.session_state["designer-workflow"] = ref
            st.success(
                f"Created {path.relative_to(workspace.root)}: [open it in the Designer](designer?workflow={ref})"
            )
    rows = [
        {"project": p.parent.parent.name, "workflow": p.stem, "file": str(p.relative_to(workspace.root))}
        for p in workspace.workflow_files()
        if ui.may_use(p.parent.parent.name)
    ]
    table.dataframe(rows, width="stretch", hide_index=True)

with runs_column:
    st.subheader("Recent runs")
    recent = ui.runner().runs.recent(limit=10)
    st.dataframe(
        [{"run": r.id, "workflow": r.workflow, "status": r.status, "started": ui.ago(r.started_at or r.created_at),
          "seconds": round(r.seconds or 0, 1)} for r in recent],
        width="stretch", hide_index=True,
    )  # fmt: skip

models_column, endpoints_column = st.columns(2)
with models_column:
    st.subheader("Models")
    with ui.user_errors("read the model registry"):
        st.dataframe(
            [{"model": m.name, "latest": m.latest_version, "aliases": ", ".join(f"{a}→{v}" for a, v in m.aliases.items())}
             for m in ui.models().list()],
            width="stretch", hide_index=True,
        )  # fmt: skip
with endpoints_column:
    st.subheader("Endpoints")
    st.dataframe(
        [{"endpoint": e.name, "status": e.status, "serves": e.version_summary(), "url": e.url}
         for e in ui.endpoints().list()],
        width="stretch", hide_index=True,
    )  # fmt: skip
