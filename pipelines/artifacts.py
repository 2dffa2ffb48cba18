"""The local artifact cache: node outputs addressed by a fingerprint.

    .tessera/artifacts/<fingerprint>/
        <output name>            the file or folder the component wrote
        manifest.json            outputs (type, metadata), node, component, run; written last

fingerprint = sha256(component digest, resolved params, input fingerprints, sample size).
A node whose fingerprint folder exists is a cache hit. Outputs are written to a private
folder under `.partial/` and renamed into place only when the node succeeded, so a crash
never leaves a half output that later counts as a hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def node_fingerprint(component_digest: str, params: dict[str, Any], inputs: dict[str, str], sample: int) -> str:
    """The content address of a node's outputs.

    Args:
        component_digest: the published component version's digest.
        params: the node's resolved parameter values (run parameters substituted).
        inputs: input name -> `<upstream fingerprint>/<output name>`.
        sample: quick-mode row limit (0 for a full run), so quick and full runs never share outputs.
    """
    document = {"component": component_digest, "params": params, "inputs": inputs, "sample": sample}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class ArtifactCache:
    """Node outputs on disk, keyed by fingerprint."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / ".partial").mkdir(parents=True, exist_ok=True)

    def folder(self, fingerprint: str) -> Path:
        return self.root / fingerprint

    def lookup(self, fingerprint: str) -> dict[str, Any] | None:
        """The outputs (name -> {uri, type, metadata}) of a complete entry, or None."""
        manifest = self.folder(fingerprint) / MANIFEST
        if not manifest.exists():
            return None
        return self._outputs(fingerprint, json.loads(manifest.read_text()))

    def new_partial(self, fingerprint: str) -> Path:
        """A private folder for a node to write its outputs into."""
        folder = self.root / ".partial" / f"{fingerprint}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        return folder

    def commit(self, partial: Path, fingerprint: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """Move a finished node's outputs into place atomically; returns their final URIs.

        If another run committed the same fingerprint first, its (identical) entry is kept
        unless `manifest["replace"]` asks to replace it (nodes with caching off).
        """
        (partial / MANIFEST).write_text(json.dumps(manifest | {"committed_at": time.time()}, indent=2))
        final = self.folder(fingerprint)
        if final.exists() and manifest.get("replace"):
            trash = self.root / ".partial" / f"old-{fingerprint}-{uuid.uuid4().hex[:8]}"
            os.replace(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(partial, final)
        except OSError:  # another run committed it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
        return self._outputs(fingerprint, json.loads((final / MANIFEST).read_text()))

    def discard(self, partial: Path) -> None:
        shutil.rmtree(partial, ignore_errors=True)

    def prune(self, keep: set[str], older_than_seconds: float, partial_grace_seconds: float = 3600) -> tuple[int, int]:
        """Delete entries not in `keep` committed longer ago than `older_than_seconds`, and
        leftovers of crashed nodes under `.partial/` older than the grace period.

        Returns (entries removed, bytes freed).
        """
        now = time.time()
        removed, freed = 0, 0
        for folder in self.root.iterdir():
            if folder.name == ".partial" or folder.name in keep or not folder.is_dir():
                continue
            manifest = folder / MANIFEST
            committed = json.loads(manifest.read_text()).get("committed_at", 0) if manifest.exists() else 0
            if now - committed > older_than_seconds:
                freed += _size(folder)
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        for folder in (self.root / ".partial").iterdir():
            if now - folder.stat().st_mtime > partial_grace_seconds:
                freed += _size(folder)
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed, freed

    def _outputs(self, fingerprint: str, manifest: dict[str, Any]) -> dict[str, Any]:
        folder = self.folder(fingerprint)
        return {
            name: {"uri": str(folder / name), "type": spec["type"], "metadata": spec.get("metadata", {})}
            | ({"value": spec["value"]} if "value" in spec else {})
            for name, spec in manifest["outputs"].items()
        }


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
