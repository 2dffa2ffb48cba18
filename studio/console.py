"""Shared terminal output for the CLI: one rich console, and how user errors are shown."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

USER_ERROR = 2


def fail(message: str) -> NoReturn:
    """Print a user error (no traceback) and exit with code 2."""
    error_console.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    sys.exit(USER_ERROR)
