from typing import Literal

from kfp.dsl import Dataset, Input, Markdown, Output

from component_store.decorator import component


@component(
    name="validate_schema",
    version="1.0.0",
    category="validate",
    tags=["pandera", "quality", "schema"],
    owner="platform",
)
def validate_schema(
    table: Input[Dataset],
    validated: Output[Dataset],
    report: Output[Markdown],
    schema_yaml: str = "",
    on_failure: Literal["fail", "warn"] = "fail",
):
    """Check a table against a pandera schema, or infer one to start from, and write a report.

    With no schema given, a schema is inferred from the data and written into the report,
    ready to copy into `schema_yaml` and tighten. Every violation is collected (lazy
    validation) and listed in the report; the step fails on violations unless told to warn.

    Args:
        table: the table to check.
        validated: the same table, passed on when it is valid (or when only warning).
        report: Markdown report: the schema used and every violation found.
        schema_yaml: a pandera DataFrameSchema in YAML (as pandera's to_yaml writes it); empty infers one.
        on_failure: fail stops the workflow on any violation; warn only reports it.
    """
    import shutil

    import pandera.pandas as pa

    from component_store.runtime.tables import read_table

    frame = read_table(table)
    schema = pa.infer_schema(frame) if not schema_yaml.strip() else pa.DataFrameSchema.from_yaml(schema_yaml)
    failures = None
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
    lines = [
        f"# Schema check: {'passed' if failures is None else f'{len(failures)} violation(s)'}",
        "",
        f"Rows: {len(frame)}, columns: {len(frame.columns)}, schema: {'inferred' if not schema_yaml.strip() else 'declared'}.",
        "",
    ]
    if failures is not None:
        shown = failures.head(50)[["schema_context", "column", "check", "failure_case", "index"]]
        lines += ["## Violations (first 50)", "", shown.to_markdown(index=False), ""]
    lines += ["## Schema", "", "```yaml", schema.to_yaml() or "", "```"]
    with open(report.path, "w") as handle:
        handle.write("\n".join(lines))
    report.metadata["violations"] = 0 if failures is None else int(len(failures))
    if failures is not None and on_failure == "fail":
        summary = "; ".join(
            f"{row.column or row.schema_context}: {row.check}"
            for row in failures.drop_duplicates(["column", "check"]).head(5).itertuples()
        )
        raise ValueError(f"validate_schema: {len(failures)} violation(s): {summary} (see the report for all)")
    shutil.copyfile(table.path, validated.path)
    validated.metadata.update(table.metadata)
