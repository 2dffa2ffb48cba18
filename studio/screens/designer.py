"""Designer: compose a workflow on the canvas, fill its forms, preview data, run it."""

from __future__ import annotations

import hashlib
import time

import streamlit as st

from pipelines import edits
from pipelines.layout import CANVAS_HEIGHT, tidy
from pipelines.loops import rolled_up
from pipelines.runner import RunOptions
from pipelines.runs import FINAL_RUN_STATES, RunRecord
from pipelines.spec import WorkflowSpec, param_reference
from pipelines.validation import review_warnings, validate_workflow
from pipelines.workflow_io import parse_workflow, save_workflow, workflow_to_yaml
from studio import forms, ui
from studio.canvas import CanvasPicture, apply_canvas, flow_elements
from studio.run_views import (
    METRIC_KINDS,
    instances_of,
    latest_workflow_run,
    params_differing,
    pick_instance,
    run_with_current_outputs,
    show_node_outputs,
    step_seconds,
)
from tessera.errors import TesseraError

st.title("Designer")
workspace, store = ui.workspace(), ui.store()
files = {f"{p.parent.parent.name}/{p.stem}": p for p in workspace.workflow_files() if ui.may_use(p.parent.parent.name)}
if not files:
    st.info("No workflows yet: create one on the Home page.")
    st.stop()
names = sorted(files)
wanted = st.query_params.get("workflow") or st.session_state.get("designer-workflow") or names[0]
bar_select, bar_status, bar_progress, bar_run = st.columns([2.2, 1.1, 1.9, 1], vertical_alignment="bottom")  # on top
choice = bar_select.selectbox("Workflow", names, index=names.index(wanted) if wanted in names else 0)
st.query_params["workflow"] = choice
st.session_state["designer-workflow"] = choice  # the Designer reopens the workflow last worked on
path = files[choice]
try:
    spec = parse_workflow(path.read_text(), str(path))
except TesseraError as exc:
    st.error(f"{path} does not load; fix it in a text editor, then reload: {exc}")
    st.stop()


def save(new_spec, note: str = "") -> None:
    """Every edit is written to the workflow file at once: the YAML on disk is the source of truth."""
    save_workflow(new_spec, path)
    if note:
        st.toast(note)


problems = validate_workflow(spec, store)
for warning in review_warnings(spec, store):  # versions in review or deprecated: runs here, with a note
    st.warning(str(warning), icon=":material/rate_review:")
problem_nodes = {p.where.split("'")[1] for p in problems if p.where.startswith("node '")}
runner = ui.runner()
ui.warm_previews()
PREVIEW_WAIT_SECONDS = 2.0  # a preview that takes longer shows its progress and is polled
recent_runs = runner.runs.recent(limit=30, workflow=choice)  # read once a rerun: the panel's tabs share it
last_run = latest_workflow_run(recent_runs, spec.node_ids())
# Every second while a run goes on; otherwise every 10 s, for a run started elsewhere (the CLI). Each tick
# redraws in the browser too: polling every second with nothing running doubled what the studio and Chromium
# took from the run on a 2-core machine (docs/benchmarks.md, the analyst's journey).
POLL_SECONDS = 1.0 if last_run is not None and last_run.status not in FINAL_RUN_STATES else 10.0
statuses = rolled_up({n.node_id: n.status for n in last_run.nodes}) if last_run else {}  # a loop's iterations: one card
seconds = step_seconds(last_run) if last_run else {}

with bar_status:
    st.markdown(
        ":green[✓ valid]" if not problems else f":red[{len(problems)} problem(s)]: see under the canvas",
        help="The workflow runs once it has no problems.",
    )
with bar_run, st.popover("▶ Run workflow", width="stretch"):
    run_params = tuple(forms.as_param_spec(name, param) for name, param in spec.params.items())
    with st.form(f"run-{choice}"):
        values = forms.param_form(run_params, {}, spec, key=f"run-{choice}")
        sample = st.number_input("Quick mode: rows per data source (0 = all)", min_value=0, value=0, step=100)
        on_kubeflow = False
        if ui.kubeflow_configured():  # the cluster is the usual place then; this machine stays one click away
            on_kubeflow = st.form_submit_button("Run on Kubeflow", type="primary", disabled=bool(problems))
            here = st.form_submit_button("Run here", disabled=bool(problems), help="On this machine's local runner")
        else:
            here = st.form_submit_button("Run", type="primary", disabled=bool(problems))
    run_values, bad = forms.read_form(run_params, values)
    if on_kubeflow or here:
        for message in bad:
            st.error(f"run parameter {message}")
        if not bad:
            with ui.user_errors(f"start {choice}"):
                backend = "kubeflow" if on_kubeflow else "local"
                record = ui.runner_for(backend).submit(spec, run_values, RunOptions(sample=int(sample)))
                st.session_state["watch-run"] = record.id
                st.rerun()


@st.fragment(run_every=POLL_SECONDS)
def run_progress() -> None:
    """The latest run where the work is: steps done of all, time, and Cancel or Resume. The page's one
    poll: when a step's state changes, the whole page is drawn again (canvas colours, the run's steps)."""
    latest = latest_workflow_run(runner.runs.recent(limit=20, workflow=choice), spec.node_ids())
    if latest is None:
        st.caption("not run yet")
        return
    if latest.backend != "local" and latest.status not in FINAL_RUN_STATES:
        with ui.user_errors(f"read run {latest.id}"):
            latest = ui.runner_of(latest.id).status(latest.id)  # brings the Kubeflow run's states home
    if rolled_up({n.node_id: n.status for n in latest.nodes}) != statuses:
        st.rerun()
    done = sum(n.status in ("succeeded", "cached", "not_run") for n in latest.nodes)
    ended = latest.ended_at or time.time()
    elapsed = int(ended - latest.started_at) if latest.started_at else 0
    left, right = st.columns([2, 1], vertical_alignment="center")
    left.markdown(
        f"{ui.status_badge(latest.status)} {done}/{len(latest.nodes)} steps · {elapsed // 60}:{elapsed % 60:02d}",
        help=f"run {latest.id}",
    )
    if latest.status in ("queued", "running") and right.button("Cancel", key="bar-cancel"):
        with ui.user_errors(f"cancel {latest.id}"):
            ui.runner_of(latest.id).cancel(latest.id)
            st.rerun()
    if (
        latest.status in ("failed", "cancelled")
        and latest.backend == "local"
        and right.button("Resume", key="bar-resume")
    ):
        with ui.user_errors(f"resume {latest.id}"):
            ui.runner_of(latest.id).submit_resume(latest.id)
            st.rerun()


with bar_progress:
    run_progress()

canvas_column, panel = st.columns([3.4, 1])  # the canvas first: about 70 % of a 1500-pixel page
with panel:  # the palette opens over the panel, so the selected step's tabs stay in the first viewport
    add_column, tidy_column = st.columns([3, 2])
    with add_column.popover("Add a step", icon=":material/add:", width="stretch"):
        offered = store.palette(include_review=st.toggle("Include versions in review", key="palette-review"))
        wanted = st.text_input("Search steps", key="palette-search", placeholder="split, lightgbm, webhook…").lower()
        offered = [c for c in offered if wanted in " ".join([c.name, c.summary, *c.tags]).lower()]
        categories = sorted({c.category for c in offered})
        category = st.selectbox("Category", ["all", *categories])
        refs = [c.ref for c in offered if category in ("all", c.category)]
        ref = st.selectbox("Component", refs, key="palette-ref")
        if st.button("Add to workflow", key="add-node", width="stretch"):
            with ui.user_errors(f"add {ref}"):
                selected = st.session_state.get("selected-node")  # steps added in a row form a chain
                after = selected if selected in spec.node_ids() else None
                added = edits.add_node(spec, store.resolve(ref), after=after)
                made = ""
                if after:  # one output that fits one free input: connected at once
                    added, made = edits.auto_connect(added, store, after, added.nodes[-1].id)
                save(added, f"added {added.nodes[-1].id}" + (f", connected {after}: {made}" if made else ""))
                st.session_state["selected-node"] = added.nodes[-1].id
                st.rerun()
    if tidy_column.button(
        "Tidy",
        key="tidy",
        width="stretch",
        help="Lay the steps out in layers, each step right of what feeds it, wrapped into bands to fit the canvas",
    ):
        save(tidy(spec), "tidied the canvas")
        st.rerun()


@st.fragment
def canvas() -> None:
    """The canvas reruns alone when the user drags or connects, so it never swallows a click elsewhere.

    Only what the user changed on the canvas is applied (see `apply_canvas`): each returned picture is
    handled once, against the drawing it may have started from and the last picture the canvas sent.
    """
    from streamlit_flow import streamlit_flow
    from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
    from streamlit_flow.state import StreamlitFlowState

    current = parse_workflow(path.read_text(), str(path))  # this fragment may run alone: read the file again
    if current != spec:  # the file moved on since the page was drawn: redraw the whole page from it
        st.rerun()
    memo_key = f"canvas-memo-{choice}"
    memo = st.session_state.setdefault(memo_key, {"digest": None, "seen": None, "handled": None, "look": None})
    nodes, flow_edges = flow_elements(current, store, statuses, problem_nodes, seconds)
    digest = hashlib.sha256((workflow_to_yaml(current) + repr(sorted(statuses.items()))).encode()).hexdigest()
    if memo["digest"] != digest:
        memo["drawn"], memo["digest"] = CanvasPicture.of(nodes, flow_edges), digest
        # The canvas adopts a drawing only when its timestamp is not older than the canvas's last event.
        # A drawing the canvas already shows (what the user just drew) is sent as older, so it does not reset
        # the canvas under the user's hand, yet a canvas mounted afresh still starts from it.
        look = repr(sorted(statuses.items()))
        shown = memo["seen"] is not None and memo["seen"].shows(memo["drawn"]) and memo["look"] == look
        memo["state"] = StreamlitFlowState(
            [StreamlitFlowNode.from_dict(n) for n in nodes],
            [StreamlitFlowEdge.from_dict(e) for e in flow_edges],
            timestamp=memo["handled"] - 1 if shown else int(time.time() * 1000),
        )
        memo["look"] = look
    state = memo["state"]
    returned = streamlit_flow(
        f"canvas-{choice}", state, height=int(CANVAS_HEIGHT), fit_view=True, allow_new_edges=True, get_node_on_click=True,
        enable_node_menu=True, enable_edge_menu=True, hide_watermark=True, min_zoom=0.2,
    )  # fmt: skip
    if returned is None or returned.timestamp in (state.timestamp, memo["handled"]):
        return
    memo["handled"] = returned.timestamp
    picture = CanvasPicture.of(
        [n.asdict() for n in returned.nodes], [e.asdict() for e in returned.edges], returned.selected_id
    )
    change = apply_canvas(current, store, picture, memo["drawn"], memo["seen"])
    memo["seen"] = picture
    for message in change.refused:
        st.error(message)
    if change.spec != current:
        save(change.spec, "; ".join(change.notes))
    # an edge that was refused, or a picture from before the latest drawing (a stale canvas): draw it anew
    if change.refused or not picture.shows(CanvasPicture.of(*flow_elements(change.spec, store))):
        memo["digest"] = None
    clicked = change.selected and change.selected != st.session_state.get("selected-node")
    if change.selected:
        st.session_state["selected-node"] = change.selected
    if change.spec != current or clicked or memo["digest"] is None:
        st.rerun()


with canvas_column:
    canvas()
    with st.expander(f"Validation: {len(problems)} problem(s)", expanded=bool(problems)):
        if not problems:
            st.success("The workflow is valid.")
        for problem in problems:
            st.markdown(f"- **{forms.for_analysts(problem.where)}**: {forms.for_analysts(problem.message)}")


def step_data(node_id: str) -> None:
    """A sample of each of the step's outputs at once, from the newest run or preview that made them as the
    step and everything above it are now; otherwise one Preview button (a quick run of its part, on the
    studio's warm runner)."""
    shown = run_with_current_outputs(recent_runs, spec, node_id)
    running = st.session_state.get("preview-run")
    if running and running[1] == node_id and runner.status(running[0]).status not in FINAL_RUN_STATES:

        @st.fragment(run_every=0.5)
        def wait_for_preview() -> None:
            if runner.status(running[0]).status in FINAL_RUN_STATES:
                st.rerun()
            st.info(f"running up to {node_id} on a sample (run {running[0]})…")

        wait_for_preview()
        return
    if shown is not None:
        rows = shown.options.get("sample")
        differing = ", ".join(f"{k}={v}" for k, v in params_differing(shown, spec, node_id).items())
        st.caption(
            f"from run `{shown.id}` ({f'a preview on {rows} rows' if rows else 'a whole run'})"
            + (f", run with {differing}" if differing else "")
        )
        show_node_outputs(shown, node_id, only="data")
    else:
        st.caption("No run has made this step's outputs as it is now.")
    rows = st.number_input("Sample rows for the preview run", min_value=10, max_value=100_000, value=500, step=100)
    if st.button(f"Preview {node_id}", key="preview", disabled=bool(problems)):
        with ui.user_errors(f"preview {node_id}"):
            partial = edits.upstream_workflow(spec, node_id)
            # On this process's warm fork server: a changed step is back in a fraction of a second, so
            # wait for it here and show its data in this rerun rather than on the next poll.
            record = runner.submit_in_process(partial, run_values, RunOptions(sample=int(rows)))
            runner.wait(record.id, timeout=PREVIEW_WAIT_SECONDS)
            st.session_state["preview-run"] = (record.id, node_id)
            st.rerun()


def step_metrics(node_id: str, component) -> None:
    """The step's metrics, importances, curves and tuning history, from the run its Data tab shows."""
    if not any(out.type in METRIC_KINDS for out in component.outputs):
        st.caption(f"{component.name} writes no metrics; an evaluate or tune step does.")
        return
    shown = run_with_current_outputs(recent_runs, spec, node_id)
    if shown is None:
        st.caption("No run has made this step's metrics as it is now: run the workflow, or preview the step.")
        return
    st.caption(
        f"from run `{shown.id}`"
        + (f" (a preview on {shown.options['sample']} rows)" if shown.options.get("sample") else "")
    )
    show_node_outputs(shown, node_id, only="metrics")


def step_log(node_id: str) -> None:
    """The step's log in the newest run or preview that ran it; follows it while it runs."""
    record = next(
        (r for r in recent_runs
         if any(r.node(i).status not in ("pending", "skipped", "not_run") for i in instances_of(r, node_id))),
        None,
    )  # fmt: skip
    if record is None:
        st.caption("The step has not run yet.")
        return
    instance = pick_instance(record, node_id, key="log")

    # followed while the step runs; a full rerun (a state changed) stops following it
    @st.fragment(run_every=1.0 if record.node(instance).status in ("pending", "running") else None)
    def follow() -> None:
        node = runner.status(record.id).node(instance)
        st.caption(f"run `{record.id}` · {instance} · {node.status}")
        st.code(runner.logs(record.id, instance)[-6000:] or "(empty)")

    follow()


with panel:
    node_ids = spec.node_ids()
    if not node_ids:
        st.info("Add a first step: press Add a step, above.")
    else:
        selected = st.session_state.get("selected-node")
        index = node_ids.index(selected) if selected in node_ids else 0
        node_id = st.selectbox("Step", node_ids, index=index)
        st.session_state["selected-node"] = node_id
        node = spec.node(node_id)
        component = store.resolve(node.component)
        st.caption(f"{component.ref}: {component.summary}")
        params_tab, inputs_tab, data_tab, metrics_tab, logs_tab, control_tab, resources_tab = st.tabs(
            ["Parameters", "Inputs", "Data", "Metrics", "Logs", "Control", "Resources"]
        )
        with params_tab:
            links = st.toggle("Link parameters to run parameters", key=f"links-{node_id}", disabled=not spec.params)
            with st.form(f"params-{choice}-{node_id}"):
                raw = forms.param_form(component.params, node.params, spec, key=f"{choice}-{node_id}", links=links)
                if st.form_submit_button("Apply parameters"):
                    values, bad = forms.read_form(component.params, raw)
                    for message in bad:
                        st.error(f"{node_id} › {message}")
                    if not bad:
                        save(edits.set_node_params(spec, node_id, values), f"{node_id}: parameters saved")
                        st.rerun()
            for problem in (p for p in problems if p.where.startswith(f"node '{node_id}'")):
                st.error(f"{forms.for_analysts(problem.where)}: {forms.for_analysts(problem.message)}")

        with inputs_tab:
            for wanted in component.inputs:
                sources = [
                    f"{other.id}.{out.name}"
                    for other in spec.nodes if other.id != node_id
                    for out in store.resolve(other.component).outputs if edits.artifacts_match(out.type, wanted.type)
                ]  # fmt: skip
                current = node.inputs.get(wanted.name, "")
                options = ["(not bound)", *sources]
                # keyed by what is bound now: a widget left over from before a canvas edit must not undo that edit
                picked = st.selectbox(
                    f"{wanted.name} ({wanted.type})", options, index=options.index(current) if current in options else 0,
                    key=f"bind-{choice}-{node_id}-{wanted.name}-{current}-{hashlib.sha256(repr(options).encode()).hexdigest()[:8]}",
                )  # fmt: skip
                if picked != (current or "(not bound)"):
                    with ui.user_errors(f"bind {node_id}.{wanted.name}"):
                        edited = (
                            edits.unbind(spec, node_id, wanted.name) if picked == "(not bound)"
                            else edits.bind(spec, store, node_id, wanted.name, picked)
                        )  # fmt: skip
                        save(edited, f"{node_id}.{wanted.name} ← {picked}")
                        st.rerun()

        with data_tab:
            step_data(node_id)
        with metrics_tab:
            step_metrics(node_id, component)
        with logs_tab:
            step_log(node_id)
        with control_tab:
            st.markdown("**Runs when / after**")
            with st.form(f"control-{choice}-{node_id}"):
                when = st.text_input(
                    "Run only when", value=node.when or "", placeholder="gate.decision == 'accept'",
                    help="Comparisons of run parameters (params.NAME) and upstream parameter outputs (NODE.OUTPUT), "
                    "joined by and / or; empty: always runs.",
                )  # fmt: skip
                after = st.multiselect("Wait for", [i for i in node_ids if i != node_id], default=list(node.after))
                exit_step = st.checkbox(
                    "Run last, whatever happened (the exit step)", value=spec.on_exit == node_id,
                    help="e.g. a notification: it runs after every other step, also when one failed or the run was "
                    "cancelled, and is told how the run ended (dsl.ExitHandler on Kubeflow).",
                )  # fmt: skip
                if st.form_submit_button("Apply"):
                    with ui.user_errors(f"set when/after of {node_id}"):
                        controlled = edits.set_node_control(spec, node_id, when, after)
                        save(edits.set_exit_node(controlled, node_id, exit_step), f"{node_id}: when/after saved")
                        st.rerun()

            lists = [name for name, param in spec.params.items() if param.type == "array"]
            st.markdown("**Repeat**")
            with st.form(f"loop-{choice}-{node_id}"):
                current_loop = next((loop for loop in spec.loops.values() if node_id in loop.nodes), None)
                options = ["(once)", *lists]
                looped_over = param_reference(current_loop.for_each) if current_loop else None
                over = st.selectbox(
                    "Run once per item of", options, index=options.index(looped_over) if looped_over in options else 0,
                    help="A list run parameter; the step reads its item as ${loop.item}. Steps repeated over the same "
                    "list run as one loop (dsl.ParallelFor on Kubeflow).",
                )  # fmt: skip
                at_once = st.number_input(
                    "Iterations at once (0: no limit)", min_value=0, max_value=1000, step=1,
                    value=current_loop.parallelism if current_loop else 0,
                )  # fmt: skip
                if st.form_submit_button("Apply repeat"):
                    with ui.user_errors(f"set the loop of {node_id}"):
                        looped = edits.set_node_loop(spec, node_id, None if over == "(once)" else over, int(at_once))
                        save(
                            looped,
                            f"{node_id}: " + ("runs once" if over == "(once)" else f"runs once per item of {over}"),
                        )
                        st.rerun()

        with resources_tab:
            with st.form(f"resources-{choice}-{node_id}"):
                have = node.resources
                cpu = st.text_input("CPU (e.g. 2 or 500m)", value=(have.cpu or "") if have else "")
                memory = st.text_input("Memory (e.g. 4Gi)", value=(have.memory or "") if have else "")
                gpu = st.number_input("GPUs", min_value=0, max_value=16, value=have.gpu if have else 0, step=1)
                if st.form_submit_button("Apply resources"):
                    with ui.user_errors(f"set resources of {node_id}"):
                        save(
                            edits.set_node_resources(spec, node_id, cpu.strip(), memory.strip(), int(gpu)),
                            "resources saved",
                        )
                        st.rerun()
        if st.button(f"Delete step {node_id}", key=f"delete-{node_id}"):
            save(edits.remove_node(spec, node_id), f"deleted {node_id}")
            st.session_state.pop("selected-node", None)
            st.rerun()

st.divider()
with st.container():
    st.subheader("Latest run")
    if problems:
        st.caption("Fix the problems listed under the canvas to run.")
    if not problems:  # compiled when clicked: compiling on every rerun took half of the page's time

        def kfp_yaml(spec: WorkflowSpec = spec) -> str:
            from pipelines.compiler import compile_to_yaml

            return compile_to_yaml(spec, store, runtime_image=workspace.config.runtime_image)

        st.download_button(
            "Download KFP pipeline YAML", ui.made_on_click(kfp_yaml, "compile for Kubeflow"),
            file_name=f"{spec.name}.kfp.yaml", mime="application/x-yaml",
        )  # fmt: skip

    def run_status(latest: RunRecord | None) -> None:
        """Per-node states of the latest run, drawn with the page (the top bar's poll redraws it on a change)."""
        if latest is None:
            st.caption("No run yet.")
            return
        if latest.options.get("kubeflow_url"):
            st.markdown(f"[Open in Kubeflow]({latest.options['kubeflow_url']})")
        st.markdown(f"Run `{latest.id}` {ui.status_badge(latest.status)} {latest.message}")
        for node_record in latest.nodes:
            seconds = f"{node_record.seconds:.1f} s" if node_record.seconds is not None else ""
            st.markdown(f"- `{node_record.node_id}` {ui.status_badge(node_record.status)} {seconds}")
            if node_record.status == "failed":
                with st.expander(f"log of {node_record.node_id}"):
                    st.code(runner.logs(latest.id, node_record.node_id)[-4000:])

    run_status(last_run)
