"""Endpoints: what serves which model version, deploy, try it, canary, promote, roll back."""

from __future__ import annotations

from typing import Any

import streamlit as st

from serving.endpoint_client import EndpointClient, endpoint_traffic
from serving.endpoints import EndpointRequest, FeatureLookup
from serving.online_features import feature_repos
from serving.targets import kserve_target, save_token
from studio import forms, ui

st.title("Endpoints")
workspace, target, registry = ui.workspace(), ui.endpoints(), ui.models()
refs = [
    ref
    for model in registry.list()
    for ref in [*(f"{model.name}@{a}" for a in sorted(model.aliases)),
                *(f"{model.name}/{v.version}" for v in registry.versions(model.name))]
]  # fmt: skip
with st.expander("Deploy a model version", expanded=not target.registry.all()):
    if not refs:
        st.info("No registered model yet: run the demo workflow first.")
    with st.form("deploy"):
        name = st.text_input("Endpoint name", placeholder="cheater-api")
        ref = st.selectbox("Model (an alias is followed when it moves)", refs)
        where = st.radio("Target", ["local process", "KServe YAML (for a cluster)"], horizontal=True)
        repos = feature_repos(workspace.root)
        by_id = st.columns([2, 2, 1])
        views = by_id[0].text_input(
            "Score by id: Feast feature views (optional)", placeholder="player_activity",
            help="Requests then carry an id; the model's other columns are read from the feature store.",
        )  # fmt: skip
        repo = by_id[1].selectbox("Feature repo", repos, disabled=not repos)
        entity = by_id[2].text_input("Id column", "player_id")
        if st.form_submit_button("Deploy endpoint", type="primary", disabled=not refs):
            with ui.user_errors(f"deploy '{name}'"):
                lookup = FeatureLookup.parse(f"{repo}:{views}", entity.strip()) if views.strip() else None
                request = EndpointRequest(name=name.strip(), model=ref, features=lookup)
                if where.startswith("KServe"):
                    import yaml

                    from serving.kserve_target import to_manifest

                    cluster = kserve_target(workspace)
                    config_map = cluster.feature_repo(request)
                    documents = [to_manifest(config_map)] if config_map is not None else []
                    documents.append(to_manifest(cluster.render(request)))
                    st.code(yaml.safe_dump_all(documents, sort_keys=False), language="yaml")
                else:
                    with st.spinner(f"starting {name}…"):
                        endpoint = target.deploy(request)
                    save_token(workspace, endpoint.name, endpoint.token or "")
                    st.session_state["endpoint-choice"] = endpoint.name
                    st.success(f"{endpoint.name} serves {endpoint.version_summary()} at {endpoint.url}")
                    st.info(
                        f"Token (kept for the studio in .tessera/endpoints/{endpoint.name}.token): {endpoint.token}"
                    )

listed = target.list()
st.dataframe(
    [{"endpoint": e.name, "status": e.status, "serves": e.version_summary(), "url": e.url, "target": e.target}
     for e in listed],
    width="stretch", hide_index=True,
)  # fmt: skip

if not listed:
    st.stop()
names = [e.name for e in listed]
remembered = st.session_state.get("endpoint-choice")
chosen = st.selectbox("Endpoint", names, index=names.index(remembered) if remembered in names else 0)
st.session_state["endpoint-choice"] = chosen
endpoint = target.status(chosen)
st.markdown(f"### {endpoint.name} {ui.status_badge(endpoint.status)} `{endpoint.url}`")
if endpoint.message:
    st.error(endpoint.message)
with ui.user_errors(f"read the traffic of {chosen}"):
    if endpoint.status == "serving":
        traffic = endpoint_traffic(endpoint.url)
        metrics = st.columns(3)
        metrics[0].metric("requests", traffic.requests)
        metrics[1].metric("errors (4xx/5xx)", traffic.errors)
        metrics[2].metric("mean latency", f"{traffic.mean_ms:.2f} ms" if traffic.mean_ms is not None else "-")


def input_widget(place: Any, column: dict[str, Any]) -> Any:
    """A form field for one input: a choice of the known categories, text, a checkbox or a number
    (empty allowed where the column may be null: the inference pipeline fills it as training did)."""
    name, described = column["name"], column.get("parameters") or {}
    key = f"try-{name}"
    if "categories" in described:
        return place.selectbox(name, described["categories"], key=key)
    if column["datatype"] == "BYTES":
        return place.text_input(name, key=key) or None
    if column["datatype"] == "BOOL":
        return place.checkbox(name, key=key)
    if column["datatype"].startswith("INT"):  # an id or a count: whole numbers, sent as JSON integers
        return place.number_input(name, value=None if described.get("nullable") else 0, step=1, key=key)
    return place.number_input(name, value=None if described.get("nullable") else 0.0, format="%g", key=key)


try_tab, traffic_tab, history_tab = st.tabs(["try it", "canary / promote / roll back", "history"])
with try_tab:
    token_file = workspace.state_dir / "endpoints" / f"{chosen}.token"
    if not token_file.exists():
        st.warning("The studio has no token for this endpoint (it was deployed from the CLI).")
        if st.button("Issue a new token for the studio"):
            with ui.user_errors(f"issue a token for {chosen}"):
                save_token(workspace, chosen, target.rotate_token(chosen).token or "")
                st.rerun()
    else:
        client = EndpointClient(endpoint.url, chosen, token_file.read_text().strip())
        metadata = None
        with ui.user_errors(f"read the signature of {chosen}"):
            metadata = client.metadata()
        if metadata:
            with st.form("try-it"):
                lookup = metadata.get("parameters", {}).get("features")
                st.caption(
                    f"scored by {lookup['entity']}: {len(lookup['from_store'])} columns read from {', '.join(lookup['views'])}"
                    if lookup
                    else f"inputs from the model's MLflow signature ({len(metadata['inputs'])} columns)"
                )
                values = {}
                collapse = len(metadata["inputs"]) > forms.TRY_IT_OPEN_AT_MOST  # many fields: one group open
                for index, (group, members) in enumerate(forms.try_it_groups(metadata["inputs"])):
                    with st.expander(f"{group} ({len(members)})", expanded=not collapse or index == 0):
                        columns = st.columns(4)
                        for i, column in enumerate(members):
                            values[column["name"]] = input_widget(columns[i % 4], column)
                values = {column["name"]: values[column["name"]] for column in metadata["inputs"]}  # signature order
                if st.form_submit_button("Send request", type="primary"):
                    with ui.user_errors(f"call {chosen}"):
                        answer = client.predict([values])
                        st.success(f"answered by version {answer.get('model_version')}")
                        st.json(answer)

with traffic_tab:
    current = endpoint.request
    with st.form("canary"):
        canary = st.selectbox("Canary version", refs, index=refs.index(current.canary) if current.canary in refs else 0)
        percent = st.slider("Share of requests for the canary", 1, 99, current.canary_percent or 10)
        if st.form_submit_button("Set canary"):
            with ui.user_errors(f"set a canary on {chosen}"), st.spinner("moving…"):
                moved = target.update(chosen, current.model_copy(update={"canary": canary, "canary_percent": percent}))
                st.success(f"{chosen} serves {moved.version_summary()}")
    promote, rollback, stop = st.columns(3)
    if promote.button("Promote the canary", disabled=current.canary is None):
        with ui.user_errors(f"promote on {chosen}"):
            st.success(f"{chosen} serves {target.promote(chosen).version_summary()}")
    if rollback.button("Roll back"):
        with ui.user_errors(f"roll back {chosen}"):
            st.success(f"{chosen} serves {target.rollback(chosen).version_summary()}")
    if endpoint.status == "serving":
        if stop.button("Stop"):
            target.stop(chosen)
            st.rerun()
    elif stop.button("Start"):
        with ui.user_errors(f"start {chosen}"), st.spinner("starting…"):
            target.start(chosen)
            st.rerun()

with history_tab:
    st.dataframe(
        [{"at": ui.ago(h.at), "event": h.event, "by": h.actor,
          "what": ", ".join(f"{r['model_name']}/{r['version']} {r['percent']}%" for r in h.detail.get("routes") or [])
          or h.detail.get("message", "")} for h in reversed(target.registry.history(chosen))],
        width="stretch", hide_index=True,
    )  # fmt: skip
