"""Shared terminal output for the CLI: one rich console, and how user errors are shown."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

OPERATION_FAILED = 1  # a run failed, a deploy failed, a service did not answer
USER_ERROR = 2  # usage and validation: the command itself must change


def fail(message: str, code: int = USER_ERROR) -> NoReturn:
    """Print an error (no traceback) and exit with `code`: 2 for usage and validation errors, 1 for failed operations."""
    from rich.markup import escape

    # escaped: a message quoting code or paths ("[column]") must print as it is, not as rich markup
    error_console.print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    sys.exit(code)


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table (for scripts).")]


def print_json(value: Any) -> None:
    """Print dataclasses, pydantic models, lists and dicts of them as JSON on stdout (nothing else is printed)."""

    def plain(item: Any) -> Any:
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            return plain(dataclasses.asdict(item))
        if hasattr(item, "model_dump"):
            return item.model_dump(mode="json")
        if isinstance(item, dict):
            return {str(k): plain(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [plain(v) for v in item]
        return item

    sys.stdout.write(json.dumps(plain(value), indent=2, default=str) + "\n")
