"""Finding the Optuna studies a run's tuning nodes left behind."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.runs import RunRecord


@dataclass(frozen=True)
class TuningNode:
    run_id: str
    node_id: str
    study_name: str
    storage: str


def tuning_nodes(records: list[RunRecord], default_storage: str) -> list[TuningNode]:
    """Every finished node of these runs whose metrics name an Optuna study (tune_optuna's do)."""
    found = []
    for record in records:
        for node in record.nodes:
            for output in node.outputs.values():
                metadata = output.get("metadata") or {}
                if "optuna_study" in metadata:
                    storage = str(metadata.get("optuna_storage") or default_storage)
                    if not storage.startswith("sqlite"):  # a server URL is stored without its password
                        storage = default_storage
                    found.append(TuningNode(record.id, node.node_id, metadata["optuna_study"], storage))
    return found
