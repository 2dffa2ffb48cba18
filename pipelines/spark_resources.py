"""The Kubernetes resources a Spark node's pod needs, read from its Spark params.

A node running `spark_sql` or `spark_aggregate` (any component with `master` and
`driver_memory` params) gets, unless its own `resources` say otherwise:

- memory: the driver memory plus JVM overhead (a quarter, at least 512Mi), because the
  driver, and in `local[N]` mode every executor thread, lives in the pod;
- cpu: N for `local[N]`; 1 for a cluster master (the driver only coordinates);
  nothing for `local[*]`, which takes whatever the pod is given.

Example:
    >>> spark_resources({"master": "local[2]", "driver_memory": "4g"}, None)
    Resources(cpu='2', memory='5120Mi', gpu=0, gpu_type='nvidia.com/gpu')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from pipelines.spec import Resources

_UNIT_MIB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def spark_resources(params: Mapping[str, Any], declared: Resources | None) -> Resources | None:
    """`declared` with cpu and memory filled in from the Spark params where it leaves them out."""
    master, memory = params.get("master"), params.get("driver_memory")
    if not isinstance(master, str) or not isinstance(memory, str):
        return declared
    match = re.match(r"^(\d+)([kmgt]?)$", memory.strip().lower())
    pod_memory = None
    if match:  # Spark reads a size without a unit as MiB
        mib = int(match.group(1)) * _UNIT_MIB[match.group(2) or "m"]
        pod_memory = f"{math.ceil(mib + max(512, mib / 4))}Mi"
    threads = re.match(r"^local\[(\d+)\]$", master)
    if master == "local":
        cpu: str | None = "1"
    elif threads:
        cpu = threads.group(1)
    else:
        cpu = None if master.startswith("local") else "1"
    base = declared or Resources()
    return base.model_copy(update={"cpu": base.cpu or cpu, "memory": base.memory or pod_memory})
