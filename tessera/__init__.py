"""Tessera's shared kernel: the error tree and the workspace, used by every package.

Kept tiny and free of heavy imports so that every layer (`studio`, `pipelines`,
`component_store`, `serving`) can depend on it.
"""

from tessera.errors import TesseraError

__all__ = ["TesseraError"]
__version__ = "0.1.0"
