"""Tuning: a tuning node's Optuna study as pictures: history, importances, parallel coordinates."""

from __future__ import annotations

import streamlit as st

from studio import ui
from studio.tuning_views import tuning_nodes

st.title("Tuning")
workspace = ui.workspace()
found = tuning_nodes(ui.runner().runs.recent(limit=50, status="succeeded"), workspace.optuna_storage)
if not found:
    st.info("No tuning yet: run a workflow with a tune_optuna step (the demo has one).")
    st.stop()
labels = {f"{t.run_id} · {t.node_id}": t for t in found}
picked = labels[st.selectbox("Tuning run", list(labels))]
with ui.user_errors(f"load study {picked.study_name}"):
    import optuna
    from optuna import visualization

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=picked.study_name, storage=picked.storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial
    numbers = st.columns(3)
    numbers[0].metric("best value", f"{best.value:.4f}")
    numbers[1].metric("trials complete", len(complete))
    numbers[2].metric("best trial", best.number)
    st.json(best.params)
    st.plotly_chart(visualization.plot_optimization_history(study), width="stretch")
    if len(complete) >= 2 and len(best.params) >= 2:
        st.plotly_chart(visualization.plot_param_importances(study), width="stretch")
    st.plotly_chart(visualization.plot_parallel_coordinate(study), width="stretch")
