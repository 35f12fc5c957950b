"""The README's examples work as written.

Every ```python block compiles (top-level ``await`` allowed, as in a REPL or
a notebook) and imports only names rmqwire has; the complete ones run
against a LocalBroker, with the README's ``127.0.0.1:9876`` pointed at it
and the application's own functions (``save``, ``lookup``, ...) stubbed.
Every ``rmqwire`` command line of the ```sh blocks parses with the real
parser, and the ``make`` targets the README opens with exist.
(``tests/test_cli.py`` runs the ``rmqwire decode`` console example.)
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

import rmqwire.codec as codec
from rmqwire.cli import _parser
from rmqwire.testing import LocalBroker

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
README_NAMESRV = "127.0.0.1:9876"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, re.S | re.M)


PYTHON = _blocks("python")
# what each complete example needs from the application around it
_APPLICATION: dict[str, dict[str, Any]] = {
    "send_in_transaction": {"save": lambda order, tx_id: None, "order": 42},
    "codec.decode(frame_bytes)": {},
}
# fragments: they show calls on objects the reader already has
_FRAGMENTS = ("create_reply_message",)


def _compile(src: str) -> Any:
    return compile(src, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _run(src: str, namesrv: str, env: dict[str, Any]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme", **env}
    result = eval(_compile(src.replace(README_NAMESRV, namesrv)), namespace)  # noqa: S307 - our own README
    if inspect.iscoroutine(result):  # top-level await / async with
        asyncio.run(asyncio.wait_for(result, 30))
    return namespace


def test_the_readme_has_its_examples() -> None:
    assert len(PYTHON) >= 6
    assert README.startswith("```sh\nmake demo ") and "\nmake test " in README.split("```", 2)[1]


@pytest.mark.parametrize("src", PYTHON, ids=[f"python-{i}" for i in range(len(PYTHON))])
def test_every_python_example_compiles_and_imports_what_exists(src: str) -> None:
    _compile(src)
    # only the imports are checked here (the lines that are not imports may
    # hold a top-level await, which ast.parse refuses)
    imports = ast.parse("\n".join(line for line in src.splitlines() if re.match(r"(from|import) ", line)))
    for node in ast.walk(imports):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rmqwire"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"README imports {alias.name} from {node.module}, which has no such name"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rmqwire"):
                    importlib.import_module(alias.name)


def test_the_complete_python_examples_run_against_a_local_broker() -> None:
    ran = 0
    with LocalBroker.in_thread(transaction_check_interval=0.2, transaction_timeout=0.1) as broker:
        for src in PYTHON:
            if any(marker in src for marker in _FRAGMENTS):
                continue
            env: dict[str, Any] = {}
            for marker, needs in _APPLICATION.items():
                if marker in src:
                    env.update(needs)
            if "codec.decode(frame_bytes)" in src:
                frame = codec.encode(codec.RemotingCommand.request(codec.RequestCode.HEART_BEAT, {}, opaque=7))
                env.update(frame_bytes=frame, data=frame + frame)
            if "lookup(" in src:
                async def lookup(msg_id: str) -> bool:
                    return True
                env["lookup"] = lookup
            namespace = _run(src, broker.namesrv_addr, env)
            if "frames = " in src:
                assert namespace["cmd"].opaque == 7 and len(namespace["frames"]) == 2 and namespace["wire"] == env["frame_bytes"]
            ran += 1
        stored = [m.body for m in broker.messages("TopicTest")]
        delayed = broker.scheduled()
    assert ran >= 5
    # the producing examples stored what they say they send (delay level 3 waits 10 s)
    for body in (b"hello", "你好".encode(), b"fire and forget", b"a", b"b"):
        assert body in stored
    assert delayed == 1


def _rmqwire_commands() -> list[list[str]]:
    commands = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if "|" in words:
                words = words[words.index("|") + 1:]
            if words[:1] == ["rmqwire"]:
                commands.append(words[1:])
    return commands


@pytest.mark.parametrize("argv", _rmqwire_commands(), ids=lambda argv: " ".join(argv[:2]))
def test_every_rmqwire_command_line_of_the_readme_parses(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    assert args.command == argv[0]


def test_the_make_targets_of_the_readme_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    named = set(re.findall(r"`make (\w+)`", README)) | set(re.findall(r"^make (\w+)", README, re.M))
    assert named and named <= targets, f"README names make targets the Makefile lacks: {sorted(named - targets)}"


def test_the_module_map_names_every_module() -> None:
    built = README.split("## How it is built", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"\b([a-z_]+\.py)\b", built)) | set(re.findall(r"\b([a-z_]+)/", built))
    missing = sorted(
        str(path.relative_to(ROOT))
        for folder in ("client", "codec")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "__init__.py" and path.name not in named
    )
    assert not missing, f"README's 'How it is built' does not name {missing}"
