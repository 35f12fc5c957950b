"""The wheel installs one import name, ``rmqwire``, and nothing else.

Built from a copy of this repository (tests, specs and benches included, so
that leaving them out is the wheel's doing), installed into a throwaway
environment, and tried there as a user would: a project with its own
``client/`` and ``codec/`` packages runs ``python -m pytest`` green with
rmqwire's auto-loaded pytest plugin present, ``python -m rmqwire`` works,
the plugin imports nothing heavy, and rmqwire logs only under ``rmqwire.*``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
#: what a build cannot do without the network (its isolated build environment)
_OFFLINE = re.compile(
    r"Could not find a version that satisfies|No matching distribution found|Failed to establish a new connection"
    r"|Temporary failure in name resolution|Network is unreachable|ProxyError|SSLError",
)
#: the runtime and test dependencies the throwaway environment borrows
_BORROWED = ("construct", "msgpack", "pytest")
#: the repository's folders and the import names the wheel installs them as
_MAPPING = {"client": "rmqwire", "codec": "rmqwire/codec"}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PYTEST", "VIRTUAL_ENV", "PIP_"))}
    env.update(PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the repository (the tree itself is not written to)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
        ".mypy_cache", ".benchmarks", "bench-results", "node_modules"))
    out = base / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300, env=_clean_env(),
    )
    if proc.returncode != 0:
        text = proc.stdout + proc.stderr
        offline = _OFFLINE.search(text)
        if offline:
            pytest.skip(f"cannot build the wheel here (its isolated build environment needs the network): "
                        f"{offline[0]}")
        pytest.fail(f"pip wheel failed:\n{text[-3000:]}")
    [built] = out.glob("rmqwire-*.whl")
    return built


def _version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def test_the_wheel_holds_rmqwire_and_its_dist_info_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"rmqwire", f"rmqwire-{_version(wheel)}.dist-info"}
    for name in names:
        parts = name.split("/")
        assert parts[0] not in ("client", "codec"), name
        assert not {"tests", "specs", "benches"} & set(parts[:-1]), name
    assert "rmqwire/py.typed" in names and "rmqwire/codec/py.typed" in names
    # every module of both folders is in it, at its installed name (an
    # explicit package list that forgot a new subpackage would drop it)
    for folder, target in _MAPPING.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                installed = f"{target}/{path.relative_to(ROOT / folder).as_posix()}"
                assert installed in names, f"{folder}/{path.relative_to(ROOT / folder)} is not in the wheel"
    entry_points = zipfile.ZipFile(wheel).read(f"rmqwire-{_version(wheel)}.dist-info/entry_points.txt").decode()
    assert re.search(r"\[pytest11\]\s*\nrmqwire = rmqwire\.pytest_plugin\b", entry_points), entry_points
    assert re.search(r"\[console_scripts\]\s*\nrmqwire = rmqwire\.cli:main\b", entry_points), entry_points


def test_the_wheel_carries_the_license_its_metadata_names_and_says_what_rmqwire_is(wheel: Path) -> None:
    dist_info = f"rmqwire-{_version(wheel)}.dist-info"
    archive = zipfile.ZipFile(wheel)
    meta = archive.read(f"{dist_info}/METADATA").decode()
    headers, _, description = meta.partition("\n\n")
    assert "License-Expression: Apache-2.0" in headers.splitlines(), headers
    assert "License-File: LICENSE" in headers.splitlines(), headers
    text = archive.read(f"{dist_info}/licenses/LICENSE").decode()
    assert text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    # the long description: the two set-up commands, then what rmqwire is
    paragraphs = [p for p in description.strip().split("\n\n") if p.strip()]
    assert paragraphs[0].splitlines()[1:3] == [ln for ln in paragraphs[0].splitlines() if ln.startswith("make ")]
    assert paragraphs[1].startswith("**rmqwire** is a pure-Python"), paragraphs[1]
    what = " ".join(paragraphs[1].split())
    assert "Apache RocketMQ *remoting* wire protocol" in what, what


def _closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need at run time (markers evaluated)."""
    from packaging.requirements import Requirement

    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        for spec in dist.requires or ():
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


def _borrow(deps: Path) -> None:
    """Links to exactly the borrowed distributions' files (and their
    dist-info), not the whole project site-packages, whose editable
    rmqwire and other pytest plugins must not leak in."""
    deps.mkdir()
    for dist in _closure(_BORROWED):
        tops = {f.parts[0] for f in dist.files or () if ".." not in f.parts and f.parts[0] != "__pycache__"}
        for top in tops:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (deps / top).exists():
                (deps / top).symlink_to(source)


@pytest.fixture(scope="module")
def throwaway(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding the wheel; returns its python."""
    base = tmp_path_factory.mktemp("throwaway")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, env=_clean_env()).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True, timeout=120, env=_clean_env())
    _borrow(base / "deps")
    (site / "borrowed-from-the-project-venv.pth").write_text(f"{base / 'deps'}\n")
    yield python


def _run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env=_clean_env())


def test_the_installed_wheel_is_rmqwire_and_nothing_else(throwaway: Path, tmp_path: Path) -> None:
    site = _run(throwaway, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).stdout.strip()
    proc = _run(throwaway, "-c", textwrap.dedent("""
        import importlib.util, rmqwire, rmqwire.codec
        print(rmqwire.__file__)
        print(rmqwire.codec.__file__)
        print(importlib.util.find_spec("client"), importlib.util.find_spec("codec"))
    """), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    package, codec, specs = proc.stdout.splitlines()
    assert package == f"{site}/rmqwire/__init__.py" and codec == f"{site}/rmqwire/codec/__init__.py"
    assert specs == "None None"  # no top-level client or codec comes with rmqwire


def test_python_m_rmqwire_and_the_public_names_work_there(throwaway: Path, wheel: Path, tmp_path: Path) -> None:
    proc = _run(throwaway, "-m", "rmqwire", "--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"rmqwire {_version(wheel)}", proc.stderr
    proc = _run(throwaway, "-c", "from rmqwire import Producer, AsyncProducer, Message; "
                "import rmqwire.codec as c; c.decode; c.encode", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = _run(throwaway, "-c", "import rmqwire.pytest_plugin, sys; assert 'rmqwire.codec' not in sys.modules, "
                "sorted(m for m in sys.modules if m.startswith('rmqwire'))", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


_USER_TEST = '''
import asyncio
import logging

import client
import codec


def test_my_own_packages_are_the_ones_imported():
    assert client.WHO == "the user's client" and codec.WHO == "the user's codec"


def test_rmqwire_plugin_is_loaded(pytestconfig):
    plugin = pytestconfig.pluginmanager.get_plugin("rmqwire")
    assert plugin is not None and plugin.__name__ == "rmqwire.pytest_plugin"


class Catch(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_rmqwire_logs_under_rmqwire_only():
    from rmqwire import AsyncProducer, Message
    from rmqwire.testing import LocalBroker

    mine, theirs = Catch(), Catch()
    logging.getLogger("client").addHandler(mine)
    logging.getLogger("client").setLevel(logging.DEBUG)
    logging.getLogger("rmqwire").addHandler(theirs)
    logging.getLogger("rmqwire").setLevel(logging.DEBUG)

    async def go():
        broker = LocalBroker()
        await broker.start()
        try:
            async with AsyncProducer("user-group", namesrv_addr=broker.namesrv_addr) as producer:
                await producer.send(Message("UserTopic", b"hello"))
        finally:
            await broker.stop()

    asyncio.run(go())
    assert theirs.records and all(r.name.startswith("rmqwire.") for r in theirs.records)
    assert mine.records == []
'''


def test_a_project_with_its_own_client_and_codec_runs_pytest_green(throwaway: Path, tmp_path: Path) -> None:
    project = tmp_path / "userproject"
    for name in ("client", "codec"):
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text(f'WHO = "the user\'s {name}"\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_user.py").write_text(_USER_TEST)
    proc = _run(throwaway, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b3 passed\b", proc.stdout), proc.stdout
