"""Finding the shared golden sessions: ``/work/shared`` next to the repo.

The sessions live outside the repository (``../shared/golden`` relative to
the checkout, or ``$RMQWIRE_SHARED``); tests that need them skip, naming
the path they looked for, when it is not there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from rmqwire.codec import RemotingCommand, decode

__all__ = ["shared_dir", "shared_golden_file", "golden_path", "golden_records", "golden_commands", "GoldenFrames"]

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


def shared_golden_file(name: str) -> Path:
    """Where ``golden/<name>`` is, without skipping: the first candidate that
    holds it, else where the first candidate would.  For module-level
    constants; the test using one still skips when ``.is_file()`` is false."""
    candidates = [c / "golden" / name for c in _candidates()]
    return next((path for path in candidates if path.is_file()), candidates[0])


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


class GoldenFrames(Mapping[int, dict[str, Any]]):
    """One session's records by ``seq``, read at first use, so that a module
    holding one imports without the shared directory and only the tests that
    read it skip."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._records: dict[int, dict[str, Any]] | None = None

    def _load(self) -> dict[int, dict[str, Any]]:
        if self._records is None:
            self._records = {record["seq"]: record for record in golden_records(self._name)}
        return self._records

    def __getitem__(self, seq: int) -> dict[str, Any]:
        return self._load()[seq]

    def __iter__(self) -> Iterator[int]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())
