"""Encode and decode of whole frames: the public API against the hand-written
reference, with construct's interpreted and compiled schema alongside.

construct's own benchmark style: for each frame kind, pairs of
build / build_compiled / parse / parse_compiled, here as ``encode`` and
``decode`` through four implementations:

* ``reference``: benches/reference.py, the same-run baseline;
* ``public``: ``codec.encode`` / ``codec.decode`` (the bound compilation of
  the schema, and orjson for JSON headers when installed);
* ``public-stdlib-json``: the same without orjson (JSON cases only, and
  only when orjson is installed: otherwise ``public`` is that already);
* ``construct-compiled`` / ``construct-interpreted``: ``FRAME.compile()``
  and ``FRAME`` itself, on the nested dicts they take and give, converted
  from and to the same RemotingCommand so that all do the same job.

Every benchmark checks its result, so ``make test`` (which runs them once
with ``--benchmark-disable``) keeps them honest.  No timing is asserted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import rmqwire.codec as codec
from rmqwire.codec.command import COMMAND_CODEC, command_from_parsed
from rmqwire.codec.frame import FRAME

from . import reference
from .cases import CASE_IDS, CASES, Case, fast_json_installed

COMPILED = FRAME.compile()


def _value(cmd: codec.RemotingCommand) -> dict[str, Any]:
    """The nested dict the schema builds from."""
    return {
        "serialize_type": cmd.serialize_type,
        "header": {
            "code": cmd.code, "language": cmd.language, "version": cmd.version, "opaque": cmd.opaque,
            "flag": cmd.flag, "remark": cmd.remark, "ext_fields": cmd.ext_fields,
        },
        "body": cmd.body,
    }


ENCODERS: dict[str, Callable[[codec.RemotingCommand], bytes]] = {
    "reference": reference.encode,
    "public": codec.encode,
    "public-stdlib-json": codec.encode,
    "construct-compiled": lambda cmd: COMPILED.build(_value(cmd)),
    "construct-interpreted": lambda cmd: FRAME.build(_value(cmd)),
}
DECODERS: dict[str, Callable[[bytes], codec.RemotingCommand]] = {
    "reference": reference.decode,
    "public": codec.decode,
    "public-stdlib-json": codec.decode,
    "construct-compiled": lambda frame: command_from_parsed(COMPILED.parse(frame)),
    "construct-interpreted": lambda frame: command_from_parsed(FRAME.parse(frame)),
}


def _params() -> list[Any]:
    params = []
    for case in CASES:
        for impl in ENCODERS:
            if impl == "public-stdlib-json" and (case.command.serialize_type != codec.SerializeType.JSON
                                                 or not fast_json_installed()):
                continue
            params.append(pytest.param(case, impl, id=f"{case.id}-{impl}"))
    return params


def _setup(benchmark: Any, request: pytest.FixtureRequest, case: Case, op: str, impl: str) -> None:
    benchmark.group = f"{case.id} {op}"
    benchmark.extra_info.update(case=case.id, op=op, impl=impl)
    if impl == "public-stdlib-json":
        request.getfixturevalue("stdlib_json")


@pytest.mark.parametrize(("case", "impl"), _params())
def test_encode(benchmark: Any, request: pytest.FixtureRequest, case: Case, impl: str) -> None:
    _setup(benchmark, request, case, "encode", impl)
    assert benchmark(ENCODERS[impl], case.command) == case.frame


@pytest.mark.parametrize(("case", "impl"), _params())
def test_decode(benchmark: Any, request: pytest.FixtureRequest, case: Case, impl: str) -> None:
    _setup(benchmark, request, case, "decode", impl)
    assert benchmark(DECODERS[impl], case.frame) == case.command


# --------------------------------------------------------------------------- not timed: the comparison is fair


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_agrees_with_the_codec(case: Case) -> None:
    """The baseline does the same job: same bytes, same values."""
    assert reference.encode(case.command) == codec.encode(case.command) == case.frame
    decoded = reference.decode(case.frame)
    assert decoded == codec.decode(case.frame) == case.command
    assert [type(getattr(decoded, name)) for name in ("language", "serialize_type", "ext_fields", "body")] == [
        type(getattr(case.command, name)) for name in ("language", "serialize_type", "ext_fields", "body")
    ]


@pytest.mark.parametrize("fast_json", [True, False], ids=["orjson-if-installed", "stdlib-json"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_every_case_takes_the_fast_path(case: Case, fast_json: bool, request: pytest.FixtureRequest) -> None:
    """What is timed is the generated fast code, not its exact fallback:
    ``parse_strict`` / ``build_strict`` raise where the fast code would hand
    over."""
    if not fast_json:
        request.getfixturevalue("stdlib_json")
    assert COMMAND_CODEC.build_strict is not None and COMMAND_CODEC.parse_strict is not None
    assert COMMAND_CODEC.build_strict(case.command) == case.frame
    assert COMMAND_CODEC.parse_strict(case.frame, 0, len(case.frame)) == (case.command, len(case.frame))
