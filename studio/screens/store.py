"""Component store: search, filter by store and status, approve, compare versions, and everything a component promises."""

from __future__ import annotations

import streamlit as st

from component_store.compare import side_by_side, source_diff
from component_store.review import approve, current_user
from pipelines.usage import component_usages
from studio import ui

STATUS_BADGES = {"approved": ":green[approved]", "review": ":orange[in review]", "deprecated": ":red[deprecated]"}

st.title("Component store")
store = ui.store()
every = [store.latest(n) for n in store.names()]
search, category_column, tag_column, store_column, status_column = st.columns([2, 1, 1, 1, 1])
text = search.text_input("Search", placeholder="split, mlflow, optuna…")
category = category_column.selectbox("Category", ["all", *sorted({c.category for c in every})])
tag = tag_column.selectbox("Tag", ["all", *sorted({t for c in every for t in c.tags})])
store_name = store_column.selectbox("Store", ["all", *(layer.name for layer in store.layers)])
status = status_column.selectbox("Status", ["all", "approved", "review", "deprecated"])
found = [
    c
    for c in store.search(
        text or None, category=None if category == "all" else category, tag=None if tag == "all" else tag
    )
    if store_name in ("all", store.info(c.name, c.version).store)
    and status in ("all", store.info(c.name, c.version).status)
]
st.caption(f"{len(found)} of {len(every)} components · every one vetted (typed, documented, tested) and frozen")
if not found:
    st.warning(f"No component matches '{text}'. Clear the filters to see all {len(every)}.")

columns = st.columns(3)
for index, component in enumerate(found):
    with columns[index % 3].container(border=True):
        card = store.info(component.name, component.version)
        st.markdown(f"**{component.name}** `{component.version}` · {component.category} · {STATUS_BADGES[card.status]}")
        st.caption(component.summary)
        st.caption(f"{card.store} store · owner {component.owner or '-'} · ✅ vetted · {', '.join(component.tags)}")

st.divider()
if found:
    name = st.selectbox("Details of", [c.name for c in found])
    versions = store.versions(name)
    version = st.selectbox("Version", [v.version for v in reversed(versions)])
    detail = store.get(name, version)
    info = store.info(name, version)
    st.subheader(detail.ref)
    st.markdown(
        f"{STATUS_BADGES[info.status]} · {info.store} store · published {info.published_at[:10]}"
        + (f" by {info.author}" if info.author else "")
        + (f" · “{info.message}”" if info.message else "")
        + (f" · approved by {info.approved_by}" if info.approved_by else "")
    )
    if info.status == "deprecated":
        st.warning(f"Deprecated ({info.reason}): use {info.replacement}")
    layer = store.layer_of(name)
    user = current_user()
    if info.status == "review" and layer.team:
        if user in layer.approvers:
            if st.button(f"Approve {detail.ref}", type="primary"):
                with ui.user_errors(f"approve {detail.ref}"):
                    approve(store, detail.ref, user)
                    st.rerun()
        else:
            st.info(f"In review: one of {', '.join(layer.approvers) or 'the store’s approvers'} approves it.")
    st.markdown(detail.summary)
    if detail.description:
        st.markdown(detail.description)
    st.markdown("**Parameters**")
    st.dataframe(
        [{"name": p.name, "type": p.type, "required": p.required, "default": str(p.default),
          "choices / range": ", ".join(map(str, p.choices)) if p.choices else
          (f"{p.minimum} … {p.maximum}" if p.minimum is not None or p.maximum is not None else ""),
          "help": p.description} for p in detail.params],
        width="stretch", hide_index=True,
    )  # fmt: skip
    inputs, outputs = st.columns(2)
    inputs.markdown("**Inputs**\n\n" + "\n".join(f"- `{a.name}` {a.type}: {a.description}" for a in detail.inputs))
    outputs.markdown(
        "**Outputs**\n\n"
        + "\n".join(f"- `{a.name}` {a.type}: {a.description}" for a in detail.outputs)
        + "".join(f"\n- `{p.name}` {p.type} (a value `when:` conditions read)" for p in detail.param_outputs)
    )
    st.markdown("**Used by**")
    usages = component_usages(ui.workspace(), name)
    st.dataframe(
        [{"workflow": u.workflow, "node": u.node, "version": u.component} for u in usages],
        width="stretch", hide_index=True,
    )  # fmt: skip
    st.caption(f"digest {detail.digest}")
    if len(versions) > 1:
        st.markdown("**Compare versions**")
        others = [v.version for v in reversed(versions) if v.version != version]
        other = st.selectbox("Compare with", others, key="compare-with")
        older, newer = sorted([version, other], key=lambda v: tuple(int(p) for p in v.split(".")))
        st.dataframe(side_by_side(store, name, older, newer), width="stretch", hide_index=True)
        st.code(source_diff(store, name, older, newer) or "same source", language="diff")
