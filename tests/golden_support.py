"""Finding the shared golden sessions: ``/work/shared`` next to the repo.

The sessions live outside the repository (``../shared/golden`` relative to
the checkout, or ``$RMQWIRE_SHARED``); tests that need them skip, naming
the path they looked for, when it is not there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmqwire.codec import RemotingCommand, decode

__all__ = ["shared_dir", "golden_path", "golden_records", "golden_commands"]

REPO = Path(__file__).resolve().parent.parent


def _candidates() -> list[Path]:
    found = []
    env = os.environ.get("RMQWIRE_SHARED")
    if env:
        found.append(Path(env))
    # a worktree /work/wt-x and the main checkout /work/main both sit next to /work/shared
    found.append(REPO.parent / "shared")
    found.append(Path("/work/shared"))
    return found


def shared_dir() -> Path:
    """The shared directory, or skip the test naming where it was looked for."""
    for candidate in _candidates():
        if (candidate / "golden").is_dir():
            return candidate
    pytest.skip(f"shared golden sessions not found (looked for {' and '.join(str(c / 'golden') for c in _candidates())})")


def golden_path(name: str) -> Path:
    """``golden/<name>`` in the shared directory, or skip naming the missing file."""
    path = shared_dir() / "golden" / name
    if not path.is_file():
        pytest.skip(f"golden session {path} is missing")
    return path


def golden_records(name: str) -> list[dict[str, Any]]:
    """The JSON lines of one golden session."""
    with golden_path(name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def golden_commands(name: str) -> Iterator[tuple[dict[str, Any], RemotingCommand]]:
    """Each record with its frame decoded (the 4-byte length prefix included)."""
    for record in golden_records(name):
        yield record, decode(bytes.fromhex(record["frame_hex"]))
