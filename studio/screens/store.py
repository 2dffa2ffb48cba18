"""Component store: search, filter, and everything a component promises."""

from __future__ import annotations

import streamlit as st

from pipelines.usage import component_usages
from studio import ui

st.title("Component store")
store = ui.store()
every = [store.latest(n) for n in store.names()]
search, category_column, tag_column = st.columns([2, 1, 1])
text = search.text_input("Search", placeholder="split, mlflow, optuna…")
category = category_column.selectbox("Category", ["all", *sorted({c.category for c in every})])
tag = tag_column.selectbox("Tag", ["all", *sorted({t for c in every for t in c.tags})])
found = store.search(text or None, category=None if category == "all" else category, tag=None if tag == "all" else tag)
st.caption(f"{len(found)} of {len(every)} components · every one vetted (typed, documented, tested) and frozen")
if not found:
    st.warning(f"No component matches '{text}'. Clear the filters to see all {len(every)}.")

columns = st.columns(3)
for index, component in enumerate(found):
    with columns[index % 3].container(border=True):
        st.markdown(f"**{component.name}** `{component.version}` · {component.category}")
        st.caption(component.summary)
        st.caption(f"owner {component.owner or '-'} · ✅ vetted · {', '.join(component.tags)}")

st.divider()
if found:
    name = st.selectbox("Details of", [c.name for c in found])
    versions = store.versions(name)
    version = st.selectbox("Version", [v.version for v in reversed(versions)])
    detail = store.get(name, version)
    st.subheader(detail.ref)
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
    outputs.markdown("**Outputs**\n\n" + "\n".join(f"- `{a.name}` {a.type}: {a.description}" for a in detail.outputs))
    st.markdown("**Used by**")
    usages = component_usages(ui.workspace(), name)
    st.dataframe(
        [{"workflow": u.workflow, "node": u.node, "version": u.component} for u in usages],
        width="stretch", hide_index=True,
    )  # fmt: skip
    st.caption(f"digest {detail.digest}")
