"""Schemas compiled to plain functions: what :mod:`codec.gen` emits, run.

:func:`compile_bound` binds a schema to a value type (``RemotingCommand``,
``MessageExt``); :func:`compile_buffer` works on nested dicts, as the
interpreted schema's ``Container`` s are, and serves construct's own
``.compile()`` too.  Each entry point runs the generated code and, where it
bails (a merged check failed, or a value it does not handle), the
interpreted schema, which raises the error class each node declares.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from construct import Construct, ConstructError, Container

from .emission import Bail
from .errors import CodecError, EncodeError
from .gen import Generator

__all__ = ["compile_buffer", "compile_bound", "BufferCodec", "BoundCodec", "COMPILED", "compile_for_construct"]


def _interpreted_value_source(gen: Generator) -> str:
    """``FACTORY(...)`` (or the nested dict) from the interpreted parse."""
    if gen.fields is None:
        return "_plain(value)"
    item = "item_" if gen.list_root else "value"
    make = f"FACTORY({', '.join(item + ''.join(f'[{k!r}]' for k in gen.paths[f]) for f in gen.fields)})"
    return f"[{make} for item_ in value]" if gen.list_root else make


def _interpreted_input_source(gen: Generator) -> str:
    """What the interpreted build takes, from the object."""
    if gen.fields is None:
        return "obj"
    return gen._render({f: f"obj.{f}" for f in gen.fields}, ())


def _plain(value: Any) -> Any:
    """A parsed ``Container`` as plain dicts (construct's bookkeeping dropped)."""
    if isinstance(value, Container):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if type(value) is list:
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------- codecs


def _interpreted(schema: Construct) -> tuple[Callable[..., tuple[Any, int]], Callable[[Any], bytes]]:
    """The schema's own parse and build, in the generated functions' shapes:
    the fallback that raises each node's declared error."""

    def parse(data: bytes, pos: int, end: int) -> tuple[Any, int]:
        stream = io.BytesIO(data[pos:end])
        value = schema.parse_stream(stream)
        return value, pos + stream.tell()

    def build(value: Any) -> bytes:
        try:
            return bytes(schema.build(value))
        except ConstructError as exc:
            raise EncodeError(f"cannot build {type(value).__name__}: {exc}") from None

    return parse, build


class BufferCodec:
    """A schema compiled to ``parse_at(data, pos, end, this=None) -> (value,
    pos)`` and ``build_bytes(obj, this=None) -> bytes`` (plain functions),
    plus the generated code alone as ``parse_strict`` / ``build_strict``."""

    def __init__(self, namespace: dict[str, Any], source: str) -> None:
        self.parse_at: Callable[..., tuple[Any, int]] = namespace["parse"]
        self.build_bytes: Callable[..., bytes] = namespace["build"]
        self.parse_strict: Callable[..., tuple[Any, int]] = namespace["parse_strict"]
        self.build_strict: Callable[..., bytes] = namespace["build_strict"]
        self.parse_exact: Callable[..., tuple[Any, int]] = namespace["parse_exact"]
        self.build_exact: Callable[..., bytes] = namespace["build_exact"]
        self.source = source
        self._namespace = namespace

    def parse(self, data: bytes) -> Any:
        """The value of a whole ``data``."""
        return self.parse_at(data, 0, len(data))[0]

    def build(self, obj: Any) -> bytes:
        return self.build_bytes(obj)


_T = TypeVar("_T")
_V = TypeVar("_V")

#: What the generated build code may raise on a value it cannot handle
#: (besides our own errors, which leaves raise and which pass through).
BUILD_DECLINES = (Bail, struct.error, TypeError, AttributeError, KeyError, ValueError, OverflowError)
#: ... and the generated parse code (inline UTF-8 decoding).
PARSE_DECLINES = (Bail, UnicodeDecodeError)


class BoundCodec(BufferCodec):
    """A schema compiled for a value type (:func:`compile_bound`).  Besides
    ``parse_at`` / ``build_bytes``, :meth:`encoder` and :meth:`decoder` make
    public entry points with the generated code inlined, so the usual call is
    one Python call."""

    def __init__(self, namespace: dict[str, Any], source: str, whole_body: str, build_body: str) -> None:
        super().__init__(namespace, source)
        self._whole_body = whole_body
        self._build_body = build_body

    def _define(self, name: str, source: str, fallback: Callable[..., Any]) -> Any:
        namespace = dict(self._namespace, FALLBACK=fallback)
        exec(compile(source, f"<rmqwire-generated-{name}>", "exec"), namespace)
        function = namespace[name]
        for attr in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
            setattr(function, attr, getattr(fallback, attr))
        function.__wrapped__ = fallback  # inspect.signature shows the typed one
        self.source += "\n" + source
        return function

    def encoder(self, fallback: Callable[[_T], bytes], exact_type: type) -> Callable[[_T], bytes]:
        """``fallback`` (the full semantics: type checks, error mapping) with
        the generated build inlined for ``exact_type`` objects."""
        self._namespace["EXACT_TYPE"] = exact_type
        source = (
            "def encoder(obj):\n"
            "    if type(obj) is EXACT_TYPE:\n"
            "        try:\n"
            f"{self._build_body}\n"
            "        except CodecError:\n"
            "            raise\n"
            "        except BUILD_DECLINES:\n"
            "            pass\n"
            "    return FALLBACK(obj)\n"
        )
        return self._define("encoder", source, fallback)  # type: ignore[no-any-return]

    def decoder(self, fallback: Callable[[_V], _T]) -> Callable[[_V], _T]:
        """``fallback`` (the full semantics: any input, trailing bytes, error
        mapping) with the generated parse of one whole ``bytes`` inlined."""
        source = (
            "def decoder(data):\n"
            "    if type(data) is bytes:\n"
            "        pos = 0\n"
            "        end = len(data)\n"
            "        try:\n"
            f"{self._whole_body}\n"
            "        except PARSE_DECLINES:\n"
            "            pass\n"
            "    return FALLBACK(data)\n"
        )
        return self._define("decoder", source, fallback)  # type: ignore[no-any-return]


def _indent(text: str, levels: int) -> str:
    return "\n".join("    " * levels + line if line else line for line in text.split("\n"))


def _compile(schema: Construct, factory: Callable[..., Any] | None, fields: Sequence[str] | None) -> tuple[Generator, dict[str, Any], str]:
    gen = Generator(schema, fields, factory)
    if fields is not None:
        missing = set(fields) - set(gen.paths)
        if missing:
            raise NotImplementedError(f"fields not in the schema: {sorted(missing)}")
    parse_body = gen.parse_source()
    whole_body = gen.parse_source(whole=True)
    build_body = gen.build_source()
    interpreted_parse, interpreted_build = _interpreted(schema)
    gen.namespace.update(
        FACTORY=factory, INTERPRETED_PARSE=interpreted_parse, INTERPRETED_BUILD=interpreted_build, _plain=_plain,
        CodecError=CodecError, BUILD_DECLINES=BUILD_DECLINES, PARSE_DECLINES=PARSE_DECLINES,
    )
    source = f"""\
# generated by rmqwire from the construct schema; do not edit
def parse_exact(data, pos, end, this=None):
    value, pos = INTERPRETED_PARSE(data, pos, end)
    return {_interpreted_value_source(gen)}, pos

def build_exact(obj, this=None):
    return INTERPRETED_BUILD({_interpreted_input_source(gen)})

def parse_strict(data, pos, end, this=None):
    if True:
{parse_body}

def build_strict(obj, this=None):
    if True:
{build_body}

def parse(data, pos, end, this=None):
    start = pos
    try:
{parse_body}
    except PARSE_DECLINES:
        pass
    return parse_exact(data, start, end)  # raises the declared error

def build(obj, this=None):
    try:
{build_body}
    except CodecError:
        raise
    except BUILD_DECLINES:
        pass
    return build_exact(obj)  # raises the declared error
"""
    exec(compile(source, "<rmqwire-generated>", "exec"), gen.namespace)
    return gen, gen.namespace, source + f"\n# whole-input parse:\n{whole_body}\n"


def compile_buffer(schema: Construct) -> BufferCodec:
    """Compile ``schema`` to functions on nested dicts keyed by its names,
    as the interpreted schema's ``Container`` s are."""
    _, namespace, source = _compile(schema, None, None)
    return BufferCodec(namespace, source)


def compile_bound(schema: Construct, factory: Callable[..., Any], fields: Sequence[str]) -> BoundCodec:
    """Compile ``schema`` bound to a value type: ``parse_at`` returns
    ``factory(*values of fields, in order)`` and ``build_bytes`` reads those
    names as attributes.  Every name in ``fields`` must be a named value of
    the schema, at one place; values not in ``fields`` are read and checked
    but not passed (e.g. a magic code a switch reads)."""
    gen, namespace, source = _compile(schema, factory, fields)
    whole_body = _indent(gen.parse_source(whole=True), 1)
    build_body = _indent(gen.build_source(), 1)
    return BoundCodec(namespace, source, whole_body, build_body)


#: Codecs compiled for construct's own ``.compile()`` (referenced by number
#: from the code construct generates).
COMPILED: dict[int, BufferCodec] = {}


def compile_for_construct(schema: Construct) -> int:
    """Compile ``schema`` for construct's compile hook; returns its number."""
    key = id(schema)
    if key not in COMPILED:
        COMPILED[key] = compile_buffer(schema)
    return key
