"""Small custom constructs that compile to tight code.

The RocketMQ wire format is declared with ordinary ``construct`` building
blocks (``Int16sb``, ``Switch``, ``GreedyBytes``, ``this`` expressions) plus
the few constructs below.  Each works interpreted, like any construct, and
each also knows how to *emit* code for a "buffer mode" compiler:

* a parser emitted for buffer mode has the signature
  ``parse(data, pos, end, this) -> (value, new_pos)`` and reads ``data`` (a
  ``bytes``) between ``pos`` and ``end`` with ``struct.unpack_from``: no
  ``BytesIO`` per field, no ``Container`` per record;
* a builder emitted for buffer mode has the signature
  ``build(obj, this) -> bytes``.

:class:`Record` (a ``Struct``) merges every run of adjacent fixed-size
fields into one precompiled ``struct.Struct``; :class:`Sized` (a
``Prefixed`` that checks its length) hands its exact byte range to its
subcon; the leaves (:class:`NullableString`, :class:`StringMap`,
:class:`JsonHeader`) have one implementation each, shared by the
interpreted and the compiled paths.

Compiled construct code does not check lengths, so every emitted read checks
its bounds and raises the ``codec.errors`` class it was declared with.
:func:`compile_buffer` turns a schema into a ``(parse, build)`` pair of
plain functions; ``Construct.compile()`` still works and uses the same code.

:func:`compile_bound` also binds a schema to a value type
(``RemotingCommand``): the emitted parser returns ``factory(*fields)`` and
the builder reads attributes, with no nested dicts in between.  That code is
one flat function per direction, the code a careful hand-written codec would
be; see :class:`_FastEmitter` for how it stays exactly as strict as the
dict-mode code it stands in front of.
"""

from __future__ import annotations

import io
import ipaddress
import itertools
import json
import json.encoder
import json.scanner
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from construct import (
    BytesInteger,
    Construct,
    ConstructError,
    FormatField,
    Renamed,
    StreamError,
    Struct,
    Subconstruct,
    Switch,
    stream_read,
    stream_read_entire,
    stream_write,
)
from construct.core import CodeGen, GreedyBytes

from .enums import LanguageCode
from .errors import CodecError, EncodeError, MalformedHeaderError
from . import errors as _errors

_errors_module = _errors.__name__

_orjson: Any = None
try:  # optional: several times faster than the stdlib, and checked to give the same results
    import orjson

    _orjson = orjson
except ImportError:  # pragma: no cover - depends on the environment
    pass

__all__ = [
    "Record",
    "Sized",
    "EnumField",
    "NullableString",
    "StringMap",
    "JsonHeader",
    "Reject",
    "Leaf",
    "Utf8Text",
    "HostPort",
    "pack_host_port",
    "compile_buffer",
    "compile_bound",
    "BufferCodec",
    "BoundCodec",
]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _field(sc: Construct) -> Construct:
    while isinstance(sc, Renamed):
        sc = sc.subcon
    return sc


# --------------------------------------------------------------------------- leaves


class _EnumTable(dict):  # type: ignore[type-arg]
    """Known values to members in one dict lookup; anything else is converted
    on the spot (and not stored: the values come off the wire)."""

    def __init__(self, enum: Any) -> None:
        super().__init__((int(m), m) for m in enum)
        self.enum = enum

    def __missing__(self, value: int) -> Any:
        return _enum_convert(self.enum, value)


class EnumField(Subconstruct):  # type: ignore[misc]
    """A fixed-size integer field read as an ``IntEnum`` member.

    Values the enum does not know are kept as plain ints (or the enum's own
    pseudo-members, as :class:`~codec.enums.LanguageCode` makes them), so an
    unknown value never fails here: whoever needs a known one decides.
    """

    def __init__(self, subcon: FormatField, enum: type) -> None:
        super().__init__(subcon)
        self.enum = enum
        self.known = _EnumTable(enum)

    def convert(self, value: int) -> Any:
        return self.known[value]

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        return self.convert(self.subcon._parsereport(stream, context, path))

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        self.subcon._build(int(obj), stream, context, path)
        return obj


def _enum_convert(enum: Any, value: int) -> Any:
    try:
        return enum(value)
    except ValueError:
        return value


def _build_nullable_string(obj: str | None, this: Any = None) -> bytes:
    if not obj:
        return b"\x00\x00\x00\x00"
    raw = obj.encode("utf-8")
    return _I32.pack(len(raw)) + raw


def _parse_nullable_string(data: bytes, pos: int, end: int, error: type[CodecError], what: str) -> tuple[str | None, int]:
    if pos + 4 > end:
        raise error(f"{what}: length field truncated")
    (n,) = _I32.unpack_from(data, pos)
    pos += 4
    if n == 0:
        return None, pos
    if n < 0 or pos + n > end:
        raise error(f"{what}: length {n} exceeds the {end - pos} bytes left")
    try:
        return data[pos : pos + n].decode("utf-8"), pos + n
    except UnicodeDecodeError as exc:
        raise error(f"{what}: invalid UTF-8 ({exc.reason})") from None


_I32 = struct.Struct(">i")
_I16 = struct.Struct(">h")
_U32_FROM = struct.Struct(">I").unpack_from
_U16_FROM = struct.Struct(">H").unpack_from


class NullableString(Construct):  # type: ignore[misc]
    """An int32-length-prefixed UTF-8 string where length 0 means null.

    Java's ``RocketMQSerializable`` writes 0 for both null and empty and reads
    0 back as null; so ``None`` and ``""`` both build to length 0.
    """

    def __init__(self, error: type[CodecError] = MalformedHeaderError, what: str = "remark") -> None:
        super().__init__()
        self.error = error
        self.what = what

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[str | None, int]:
        return _parse_nullable_string(data, pos, end, self.error, self.what)

    def build_bytes(self, obj: str | None, this: Any) -> bytes:
        return _build_nullable_string(obj, this)

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        return _interpret_leaf(self, stream, context)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        data = self.build_bytes(obj, context)
        stream_write(stream, data, len(data), path)
        return obj


def _interpret_leaf(leaf: Any, stream: Any, context: Any) -> Any:
    """Interpreted parse of a leaf that needs the rest of its (bounded) stream:
    leaves only ever stand at the end of a :class:`Sized` range or a record."""
    start = stream.tell()
    data = stream_read_entire(stream, "")
    value, used = leaf.parse_at(data, 0, len(data), context)
    stream.seek(start + used)
    return value


def _parse_string_map(data: bytes, pos: int, end: int, this: Any = None) -> tuple[dict[str, str], int]:
    block = data[pos:end]
    if block.isascii():
        # Every byte is below 0x80, so no length can be negative and UTF-8
        # decoding is latin-1 decoding: decode the block once and slice text,
        # instead of slicing and decoding 2 x entries byte strings.  Overruns
        # are found by unpack_from (a length past the block) or by the final
        # position; then the exact loop below says what is wrong.
        text = block.decode("latin-1")
        size = end - pos
        result: dict[str, str] = {}
        p = 0
        try:
            while p < size:
                k = p + 2
                q = k + _U16_FROM(block, p)[0]
                r = q + 4
                p = r + _U32_FROM(block, q)[0]
                result[text[k:q]] = text[r:p]
        except struct.error:
            p = -1
        if p == size:
            return result, end
    return _parse_string_map_exact(data, pos, end)


def _parse_string_map_exact(data: bytes, pos: int, end: int) -> tuple[dict[str, str], int]:
    result: dict[str, str] = {}
    unpack16 = _I16.unpack_from
    unpack32 = _I32.unpack_from
    try:
        while pos < end:
            if pos + 2 > end:
                raise MalformedHeaderError("extFields: key length truncated")
            (klen,) = unpack16(data, pos)
            pos += 2
            if klen < 0 or pos + klen + 4 > end:
                raise MalformedHeaderError(f"extFields: key length {klen} exceeds the map")
            key = data[pos : pos + klen].decode("utf-8")
            pos += klen
            (vlen,) = unpack32(data, pos)
            pos += 4
            if vlen < 0 or pos + vlen > end:
                raise MalformedHeaderError(f"extFields: value length {vlen} of {key!r} exceeds the map")
            result[key] = data[pos : pos + vlen].decode("utf-8")
            pos += vlen
    except UnicodeDecodeError as exc:
        raise MalformedHeaderError(f"extFields: invalid UTF-8 ({exc.reason})") from None
    return result, pos


#: Length prefixes as latin-1 text, for building an all-ASCII map as one str.
_KEY_LENGTH_TEXT = [_I16.pack(n).decode("latin-1") for n in range(256)]
_VALUE_LENGTH_TEXT = [_I32.pack(n).decode("latin-1") for n in range(2048)]


def _build_string_map(obj: Mapping[str, str], this: Any = None) -> bytes:
    # Usual case: every key and value is ASCII (V2 letters, numbers, topic
    # names), so a character is a byte: build the block as one str, length
    # prefixes included, and encode it once.  Anything else (non-ASCII, not
    # str, a value of 2 KiB or more) takes the exact loop, which also raises.
    try:
        if "".join(obj).isascii() and "".join(obj.values()).isascii():
            parts: list[str] = []
            for key, value in obj.items():
                parts += (_KEY_LENGTH_TEXT[len(key)], key, _VALUE_LENGTH_TEXT[len(value)], value)
            return "".join(parts).encode("latin-1")
    except (TypeError, AttributeError, IndexError):
        pass
    return _build_string_map_exact(obj)


def _build_string_map_exact(obj: Mapping[str, str]) -> bytes:
    pack16 = _I16.pack
    pack32 = _I32.pack
    parts: list[bytes] = []
    append = parts.append
    for key, value in obj.items():
        kb = key.encode("utf-8")
        vb = value.encode("utf-8")
        append(pack16(len(kb)))
        append(kb)
        append(pack32(len(vb)))
        append(vb)
    return b"".join(parts)


class StringMap(Construct):  # type: ignore[misc]
    """The whole ``extFields`` map in one construct: repeated
    ``{int16 key length, UTF-8 key, int32 value length, UTF-8 value}`` up to
    the end of its range (wrap it in :class:`Sized` for the block length).

    One construct for the map, not a ``Struct`` per entry: that alone is most
    of the difference between slow and fast construct code here.  Duplicate
    keys keep the last value, as Java's ``HashMap.put`` does.
    """

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[dict[str, str], int]:
        return _parse_string_map(data, pos, end, this)

    def build_bytes(self, obj: Mapping[str, str], this: Any) -> bytes:
        return _build_string_map(obj, this)

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        return _interpret_leaf(self, stream, context)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        data = self.build_bytes(obj, context)
        stream_write(stream, data, len(data), path)
        return obj


class Leaf(Construct):  # type: ignore[misc]
    """A construct with one implementation for every path: ``parse_at(data,
    pos, end, this) -> (value, pos)`` and ``build_bytes(obj, this) -> bytes``.

    ``this`` is the record read so far (a dict in compiled code, a
    ``Container`` interpreted), so a leaf may depend on an earlier field.
    Subclasses raise their own :mod:`codec.errors` class on bad input.
    """

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[Any, int]:
        raise NotImplementedError

    def build_bytes(self, obj: Any, this: Any) -> bytes:
        raise NotImplementedError

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        return _interpret_leaf(self, stream, context)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        data = self.build_bytes(obj, context)
        stream_write(stream, data, len(data), path)
        return obj


class Utf8Text(Leaf):
    """The rest of its range as UTF-8 text (wrap it in :class:`Sized`)."""

    def __init__(self, error: type[CodecError], what: str) -> None:
        super().__init__()
        self.error = error
        self.what = what

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[str, int]:
        try:
            return data[pos:end].decode("utf-8"), end
        except UnicodeDecodeError as exc:
            raise self.error(f"{self.what}: invalid UTF-8 ({exc.reason})") from None

    def build_bytes(self, obj: str, this: Any) -> bytes:
        if type(obj) is not str:
            raise EncodeError(f"{self.what} must be a str, not {type(obj).__name__}")
        try:
            return obj.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EncodeError(f"{self.what}: not encodable as UTF-8 ({exc.reason})") from None


_PORT = struct.Struct(">i")


class HostPort(Leaf):
    """A socket address as Java's ``ByteBuffer`` holds it: the IP address (4
    bytes, or 16 when ``flag`` is set in the record's ``flag_field``) and an
    int32 port; the value is ``"ip:port"`` (``"[ip6]:port"`` for IPv6)."""

    def __init__(self, flag_field: str, flag: int, error: type[CodecError], what: str) -> None:
        super().__init__()
        self.flag_field = flag_field
        self.flag = flag
        self.error = error
        self.what = what

    def size(self, this: Any) -> int:
        return 20 if this[self.flag_field] & self.flag else 8

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[str, int]:
        if this[self.flag_field] & self.flag:
            if pos + 20 > end:
                raise self.error(f"{self.what}: record truncated ({end - pos} of 20 bytes)")
            port = _PORT.unpack_from(data, pos + 16)[0]
            return f"[{ipaddress.IPv6Address(data[pos:pos + 16])}]:{port}", pos + 20
        if pos + 8 > end:
            raise self.error(f"{self.what}: record truncated ({end - pos} of 8 bytes)")
        a, b, c, d = data[pos : pos + 4]
        return f"{a}.{b}.{c}.{d}:{_PORT.unpack_from(data, pos + 4)[0]}", pos + 8

    def build_bytes(self, obj: str, this: Any) -> bytes:
        return pack_host_port(obj, bool(this[self.flag_field] & self.flag), self.what)


def pack_host_port(host_port: str, v6: bool, what: str = "host") -> bytes:
    """``"ip:port"`` (or ``"[ip6]:port"``) as address bytes plus an int32
    port; ``v6`` says which family the record declares.  Raises
    :class:`EncodeError` for anything else."""
    if type(host_port) is not str:
        raise EncodeError(f"{what} must be an 'ip:port' str, not {type(host_port).__name__}")
    host, sep, port_text = host_port.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(host)
        port = int(port_text, 10)
    except ValueError:
        raise EncodeError(f"{what} must be 'ip:port', not {host_port!r}") from None
    if not sep or not 0 <= port <= 0xFFFF:
        raise EncodeError(f"{what} must be 'ip:port' with a port 0..65535, not {host_port!r}")
    if (address.version == 6) != v6:
        raise EncodeError(f"{what} {host_port!r} is IPv{address.version} but sysFlag says IPv{6 if v6 else 4}")
    return address.packed + _PORT.pack(port)


# --------------------------------------------------------------------------- JSON header

_JSON_FIELDS = ("code", "language", "version", "opaque", "flag", "remark", "ext_fields")
_loads = json.loads
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_dumps = _ENCODER.encode


def _stdlib_accelerators() -> tuple[Any, Any]:
    """The stdlib's own C scanner and encoder, called directly.

    ``json.loads`` and ``JSONEncoder.encode`` wrap them in per-call work: two
    regex whitespace scans per ``loads``, a new C encoder per ``encode``.  On
    headers of a few hundred bytes that is about a quarter of the time.  Same
    objects, same settings, so the same results; None where CPython's
    ``_json`` is missing."""
    try:
        scan = getattr(json.scanner, "c_make_scanner")(json.JSONDecoder())  # json.loads's own decoder settings
        encode = getattr(json.encoder, "c_make_encoder")(  # _ENCODER's settings, no circular check (flat dicts)
            None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )
        sample = {"a": "\x01é", "b": 1}
        if "".join(encode(sample, 0)) == _dumps(sample) and scan('{"a":1}', 0) == ({"a": 1}, 7):
            return scan, encode
    except Exception:  # noqa: BLE001 - pragma: no cover - not CPython, or another signature
        pass
    return None, None  # pragma: no cover


_c_scan, _c_encode = _stdlib_accelerators()


def _stdlib_loads(text: str) -> Any:
    """``json.loads(text)``: the C scanner when the text is exactly one value
    (no surrounding whitespace, nothing it refuses), else ``json.loads``
    itself, which decides."""
    if _c_scan is not None:
        try:
            value, stop = _c_scan(text, 0)
        except Exception:  # noqa: BLE001 - StopIteration, JSONDecodeError, RecursionError: loads decides
            pass
        else:
            if stop == len(text):
                return value
    return _loads(text)


def _stdlib_dumps(obj: Any) -> str:
    """``_dumps(obj)`` for flat dicts of str and int."""
    return "".join(_c_encode(obj, 0)) if _c_encode is not None else _dumps(obj)

# The optional fast JSON library: orjson.  Its output for the values the fast
# path lets through (str keys and values, int32 numbers) is byte-for-byte the
# stdlib's with ensure_ascii=False and compact separators.  Its parser differs
# from json.loads on a few inputs (it rejects NaN and lone surrogate escapes,
# reads integers past 64 bits as floats, nests 1024 deep), so its result is
# only used when every field has its plain type (see _json_header_fields) and,
# for long texts, no unknown key holds a container; anything else is parsed
# again by the stdlib, which decides.
_fast_loads: Callable[[bytes], Any] | None = None
_fast_dumps: Callable[[Any], bytes] | None = None
_SHALLOW_TEXT = 1000  # a text this short cannot nest deep enough to matter


def _use_fast_json(enabled: bool = True) -> bool:
    """Use orjson when installed (the default) or only the stdlib; returns
    whether orjson is now in use.  For tests and benchmarks."""
    global _fast_loads, _fast_dumps
    if enabled and _orjson is not None:
        _fast_loads, _fast_dumps = _orjson.loads, _orjson.dumps
    else:
        _fast_loads = _fast_dumps = None
    return _fast_loads is not None


_use_fast_json()


def _json_int(header: Mapping[str, Any], key: str) -> int:
    value = header.get(key, 0)
    if type(value) is int and _INT32_MIN <= value <= _INT32_MAX:
        return value
    if isinstance(value, str):  # fastjson casts numeric strings
        try:
            number = int(value, 10)
        except ValueError:
            number = None
        if number is not None and _INT32_MIN <= number <= _INT32_MAX:
            return number
    raise MalformedHeaderError(f"JSON header: {key!r} must be a 32-bit integer, not {value!r}")


def _ext_value(value: Any) -> str | None:
    """A JSON extFields value as the string Java's ``HashMap<String,String>``
    holds after fastjson's cast: numbers and booleans by their JSON text."""
    if type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return None
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return repr(value)
    return str(_dumps(value))


_LANGUAGE_BY_NAME: dict[str, LanguageCode] = {m.name: m for m in LanguageCode}


def _general_json_fields(header: Any) -> tuple[Any, ...]:
    """Every other header: fastjson's casts, Java's defaults, or the error."""
    if type(header) is not dict:
        raise MalformedHeaderError(f"JSON header: expected an object, got {type(header).__name__}")
    ext = header.get("extFields")
    if ext is None:
        ext_fields: dict[str, str] = {}
    elif type(ext) is dict:
        ext_fields = {}
        for key, value in ext.items():
            if type(value) is str:
                ext_fields[key] = value
            else:
                text = _ext_value(value)
                if text is not None:
                    ext_fields[key] = text
    else:
        raise MalformedHeaderError(f"JSON header: extFields must be an object, not {type(ext).__name__}")
    remark = header.get("remark")
    if remark is not None and type(remark) is not str:
        raise MalformedHeaderError(f"JSON header: remark must be a string, not {remark!r}")
    language = header.get("language", "JAVA")
    if type(language) is str:
        lang = LanguageCode.from_name(language)
    elif type(language) is int and 0 <= language <= 255:
        lang = LanguageCode(language)
    else:
        raise MalformedHeaderError(f"JSON header: language must be a name, not {language!r}")
    return (
        _json_int(header, "code"),
        lang,
        _json_int(header, "version"),
        _json_int(header, "opaque"),
        _json_int(header, "flag"),
        remark,
        ext_fields,
    )


def _is_shallow(header: dict[str, Any]) -> bool:
    """No unknown key holds a container (extFields is checked on its own)."""
    for key, value in header.items():
        if (type(value) is dict or type(value) is list) and key != "extFields":
            return False
    return True


def _stdlib_json(data: bytes, pos: int, end: int) -> Any:
    try:
        return _loads(data[pos:end].decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedHeaderError(f"JSON header: invalid UTF-8 ({exc.reason})") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise MalformedHeaderError(f"JSON header: not JSON ({exc})") from None
    except RecursionError:
        raise MalformedHeaderError("JSON header: nested too deeply") from None


def _json_header_fields(data: bytes, pos: int, end: int) -> tuple[Any, ...]:
    """The seven header fields (:data:`_JSON_FIELDS` order) of the JSON text in
    ``data[pos:end]``; raises :class:`MalformedHeaderError`."""
    header: Any = None
    if _fast_loads is not None:
        try:
            header = _fast_loads(data[pos:end])
        except Exception:  # noqa: BLE001 - whatever orjson refuses, the stdlib decides
            pass
        if type(header) is not dict or (end - pos > _SHALLOW_TEXT and not _is_shallow(header)):
            header = None
    from_stdlib = header is None
    if from_stdlib:
        try:
            header = _stdlib_loads(data[pos:end].decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            header = _stdlib_json(data, pos, end)  # raises the error
        if type(header) is not dict:
            return _general_json_fields(header)
    # The usual header: int32 numbers, a known language name, a str remark and
    # str extFields values.  Both parsers read those alike, so for anything
    # else the general rules run on the stdlib's reading.
    code = header.get("code", 0)
    version = header.get("version", 0)
    opaque = header.get("opaque", 0)
    flag = header.get("flag", 0)
    language = header.get("language", "JAVA")
    remark = header.get("remark")
    ext = header.get("extFields")
    if (
        int is type(code) is type(version) is type(opaque) is type(flag)
        and _INT32_MIN <= code <= _INT32_MAX
        and _INT32_MIN <= version <= _INT32_MAX
        and _INT32_MIN <= opaque <= _INT32_MAX
        and _INT32_MIN <= flag <= _INT32_MAX
        and type(language) is str
        and (remark is None or type(remark) is str)
    ):
        member = _LANGUAGE_BY_NAME.get(language)
        if member is not None:
            if ext is None:
                return code, member, version, opaque, flag, remark, {}
            if type(ext) is dict:
                try:
                    "".join(ext.values())  # raises TypeError unless every value is a str
                except TypeError:
                    pass
                else:
                    return code, member, version, opaque, flag, remark, ext
    return _general_json_fields(header if from_stdlib else _stdlib_json(data, pos, end))


def _parse_json_header(data: bytes, pos: int, end: int, this: Any = None) -> tuple[dict[str, Any], int]:
    return dict(zip(_JSON_FIELDS, _json_header_fields(data, pos, end))), end


def _check_int32(name: str, value: int) -> int:
    # int(), not the value itself: str() of a bool or an (int, Enum) member
    # is not its number, and the header must carry the number
    if type(value) is bool or not isinstance(value, int) or not _INT32_MIN <= value <= _INT32_MAX:
        raise EncodeError(f"{name} must be a 32-bit integer, not {value!r}")
    return int(value)


# Only real members are cached, by identity: a pseudo-member made for an
# unknown JSON name (LanguageCode.from_name) compares equal to OTHER.
_LANGUAGE_JSON: dict[int, str] = {id(m): _dumps(m.name) for m in LanguageCode}
_LANGUAGE_NAME: dict[int, str] = {id(m): m.name for m in LanguageCode}


def _json_header_bytes(
    code: int, language: Any, version: int, opaque: int, flag: int, remark: str | None, ext_fields: Any
) -> bytes:
    """The JSON header text for these field values (:data:`_JSON_FIELDS` order).

    The usual values (exact ints in range, a real language member, str
    remark, a dict of str to str) become one dict in fastjson's key order,
    serialised by one ``dumps``; anything else takes the exact builder, which
    produces the same bytes or raises.
    """
    name = _LANGUAGE_NAME.get(id(language))
    if (
        name is not None
        and int is type(code) is type(version) is type(opaque) is type(flag)
        and _INT32_MIN <= code <= _INT32_MAX
        and _INT32_MIN <= version <= _INT32_MAX
        and _INT32_MIN <= opaque <= _INT32_MAX
        and _INT32_MIN <= flag <= _INT32_MAX
        and (remark is None or type(remark) is str)
        and type(ext_fields) is dict
    ):
        for key, value in ext_fields.items():  # Java's HashMap<String,String>
            if type(key) is not str or type(value) is not str:
                break
        else:
            # fastjson's default features: keys sorted, nulls omitted, enums by name
            header: dict[str, Any] = {"code": code}
            if ext_fields:
                header["extFields"] = ext_fields
            header["flag"] = flag
            header["language"] = name
            header["opaque"] = opaque
            if remark is not None:
                header["remark"] = remark
            header["serializeTypeCurrentRPC"] = "JSON"
            header["version"] = version
            if _fast_dumps is not None:
                try:
                    return _fast_dumps(header)
                except TypeError:  # a lone surrogate: the exact path raises the usual error
                    pass
            else:
                return _stdlib_dumps(header).encode("utf-8")
    return _build_json_header_exact(code, language, version, opaque, flag, remark, ext_fields)


def _build_json_header_exact(
    code: int, language: Any, version: int, opaque: int, flag: int, remark: str | None, ext: Any
) -> bytes:
    lang = _LANGUAGE_JSON.get(id(language))
    if lang is None:
        lang = _dumps(language.name if isinstance(language, LanguageCode) else LanguageCode(language).name)
    parts = ['{"code":', str(_check_int32("code", code))]
    if ext:
        for key, value in ext.items():
            if type(key) is not str or type(value) is not str:
                raise EncodeError(f"extFields must map str to str, not {key!r}: {value!r}")
        parts.append(',"extFields":')
        parts.append(_dumps(ext))
    parts.append(',"flag":')
    parts.append(str(_check_int32("flag", flag)))
    parts.append(',"language":')
    parts.append(lang)
    parts.append(',"opaque":')
    parts.append(str(_check_int32("opaque", opaque)))
    if remark is not None:
        if type(remark) is not str:
            raise EncodeError(f"remark must be a string, not {remark!r}")
        parts.append(',"remark":')
        parts.append(_dumps(remark))
    parts.append(',"serializeTypeCurrentRPC":"JSON","version":')
    parts.append(str(_check_int32("version", version)))
    parts.append("}")
    return "".join(parts).encode("utf-8")


def _build_json_header(obj: Mapping[str, Any], this: Any = None) -> bytes:
    return _json_header_bytes(
        obj["code"], obj["language"], obj["version"], obj["opaque"], obj["flag"], obj["remark"], obj["ext_fields"]
    )


class JsonHeader(Construct):  # type: ignore[misc]
    """The JSON header (``RemotingSerializable``, fastjson) as a construct.

    Parses to the same logical fields as the ROCKETMQ binary header.  Reading
    is as lenient as fastjson: any key order, trailing whitespace (the C++
    client's ``\\n``), missing ``remark``/``extFields``, and extFields values
    that are JSON numbers or booleans, normalised to the strings a Java broker
    sees.  Writing follows fastjson's defaults: keys sorted, nulls omitted,
    enums by name.
    """

    #: the names of the values it parses to, in order (bound compilation)
    fields = _JSON_FIELDS

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[dict[str, Any], int]:
        return _parse_json_header(data, pos, end, this)

    def build_bytes(self, obj: Mapping[str, Any], this: Any) -> bytes:
        return _build_json_header(obj, this)

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        return _interpret_leaf(self, stream, context)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        data = self.build_bytes(obj, context)
        stream_write(stream, data, len(data), path)
        return obj


class Reject(Construct):  # type: ignore[misc]
    """Always fails with ``error(keyfunc(this))``: the default case of a
    ``Switch`` whose key has no meaning on the wire."""

    flagbuildnone = True

    def __init__(self, keyfunc: Any, error: Callable[[Any], CodecError]) -> None:
        super().__init__()
        self.keyfunc = keyfunc
        self.error = error

    def fail(self, this: Any) -> Any:
        key = self.keyfunc(this) if callable(self.keyfunc) else self.keyfunc
        raise self.error(key)

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> Any:
        return self.fail(this)

    def build_bytes(self, obj: Any, this: Any) -> bytes:
        return self.fail(this)  # type: ignore[no-any-return]

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        return self.fail(context)

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        return self.fail(context)


# --------------------------------------------------------------------------- composites


class Sized(Subconstruct):  # type: ignore[misc]
    """``Prefixed`` with its lengths checked: a length field counting the
    bytes of ``subcon``, which must use exactly that many.

    A negative length, a length past the end of the data, or a subcon that
    stops short raise ``error`` (a :class:`~codec.errors.CodecError` class),
    interpreted and compiled alike.
    """

    def __init__(
        self,
        lengthfield: Construct,
        subcon: Construct,
        error: type[CodecError],
        what: str,
        *,
        negative: type[CodecError] | None = None,
    ) -> None:
        super().__init__(subcon)
        self.lengthfield = lengthfield
        self.error = error
        self.negative = negative or error  # a negative length is corrupt, not short
        self.what = what

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        try:
            length = self.lengthfield._parsereport(stream, context, path)
        except StreamError:
            raise self.error(f"{self.what}: length field truncated") from None
        if length < 0:
            raise self.negative(f"{self.what}: negative length {length}")
        try:
            data = stream_read(stream, length, path)
        except StreamError:
            raise self.error(f"{self.what}: declares {length} bytes, fewer are left") from None
        sub = io.BytesIO(data)
        value = self.subcon._parsereport(sub, context, path)
        if sub.tell() != length:
            raise self.error(f"{self.what}: {length - sub.tell()} bytes left over")
        return value

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        sub = io.BytesIO()
        value = self.subcon._build(obj, sub, context, path)
        data = sub.getvalue()
        self.lengthfield._build(len(data), stream, context, path)
        stream_write(stream, data, len(data), path)
        return value

    def _sizeof(self, context: Any, path: str) -> int:
        raise ConstructError("Sized has no fixed size")

    # construct's own compiler enters through the root's stream-mode methods
    def _emitparse(self, code: CodeGen) -> str:
        fname = f"parse_root_{code.allocateId()}"
        inner = _BufferEmitter(code).parse(self)
        code.append(
            f"""
            def {fname}(io, this):
                data = io.read()
                value, pos = {inner}(data, 0, len(data), this)
                io.seek(pos - len(data), 1)
                return value
            """
        )
        return f"{fname}(io, this)"

    def _emitbuild(self, code: CodeGen) -> str:
        inner = _BufferEmitter(code).build(self)
        return f"(io.write({inner}(obj, this)), obj)[1]"


class Record(Struct):  # type: ignore[misc]
    """A ``Struct`` whose compiled form works on plain dicts and packs every
    run of adjacent fixed-size fields with one ``struct.Struct``.

    Interpreted, it is a ``Struct`` (and parses to a ``Container``); compiled,
    it parses to a plain ``dict`` with the same keys.  ``error`` is what a
    record cut short in its fixed fields raises.
    """

    def __init__(self, *subcons: Construct, error: type[CodecError] = MalformedHeaderError, **subconskw: Construct) -> None:
        super().__init__(*subcons, **subconskw)
        self.error = error


# --------------------------------------------------------------------------- buffer-mode compiler


def _key(key: Any) -> str:
    """Source text for a Switch key (enum members by their int value)."""
    return repr(int(key)) if isinstance(key, int) else repr(key)


def _fixed_format(sc: Construct) -> str | None:
    """The struct format char(s) of a fixed-size field, or None."""
    field = _field(sc)
    if isinstance(field, EnumField):
        field = field.subcon
    if isinstance(field, FormatField) and field.fmtstr[0] == ">":
        return str(field.fmtstr[1:])
    return None


#: Leaf constructs the generated code calls, by number (kept alive here).
_LEAVES: dict[int, Construct] = {}


class _BufferEmitter:
    """Emits buffer-mode parse/build functions for a schema into a CodeGen."""

    def __init__(self, code: CodeGen) -> None:
        self.code = code
        code.append(
            f"""
            from {__name__} import _parse_nullable_string, _build_nullable_string, _enum_convert
            from {__name__} import _parse_string_map, _build_string_map
            from {__name__} import _parse_json_header, _build_json_header
            from {_errors_module} import MalformedHeaderError, EncodeError
            """
        )

    def _alias(self, prefix: str) -> str:
        return f"{prefix}_{self.code.allocateId()}"

    # -- parse
    def parse(self, sc: Construct) -> str:
        """The name of an emitted ``f(data, pos, end, this) -> (value, pos)``."""
        key = ("bufparse", id(sc))
        cached = self.code.parsercache.get(key)
        if cached:
            return str(cached)
        name = self._parse(_field(sc))
        self.code.parsercache[key] = name
        return name

    def _leaf(self, sc: Leaf, method: str) -> str:
        key = len(_LEAVES)
        _LEAVES[key] = sc
        name = self._alias(f"leaf_{method}")
        self.code.append(f"from {__name__} import _LEAVES\n{name} = _LEAVES[{key}].{method}")
        return name

    def _parse(self, sc: Construct) -> str:
        code = self.code
        if isinstance(sc, Leaf):
            return self._leaf(sc, "parse_at")
        if isinstance(sc, StringMap):
            return "_parse_string_map"
        if isinstance(sc, JsonHeader):
            return "_parse_json_header"
        if isinstance(sc, NullableString):
            fname = self._alias("parse_nullable")
            err = self._global(sc.error)
            code.append(
                f"""
                def {fname}(data, pos, end, this):
                    return _parse_nullable_string(data, pos, end, {err}, {sc.what!r})
                """
            )
            return fname
        if sc is GreedyBytes:
            fname = self._alias("parse_greedy")
            code.append(
                f"""
                def {fname}(data, pos, end, this):
                    return data[pos:end], end
                """
            )
            return fname
        if isinstance(sc, Reject):
            fname = self._alias("parse_reject")
            code.append(
                f"""
                def {fname}(data, pos, end, this):
                    raise {self._reject(sc)}
                """
            )
            return fname
        if isinstance(sc, Sized):
            return self._parse_sized(sc)
        if isinstance(sc, Switch):
            table = self._alias("switch_parse")
            code.append(f"{table} = {{}}")
            for key, case in sc.cases.items():
                code.append(f"{table}[{_key(key)}] = {self.parse(case)}")
            default = self.parse(sc.default)
            fname = self._alias("parse_switch")
            code.append(
                f"""
                def {fname}(data, pos, end, this):
                    return {table}.get({sc.keyfunc!r}, {default})(data, pos, end, this)
                """
            )
            return fname
        if isinstance(sc, Struct):
            return self._parse_record(sc)
        raise NotImplementedError(f"buffer mode cannot compile {sc!r}")

    def _global(self, obj: Any) -> str:
        """Import a module-level class or function into the generated code."""
        name, module = obj.__name__, obj.__module__
        self.code.append(f"from {module} import {name}")
        return str(name)

    def _reject(self, sc: Reject) -> str:
        # a ``this`` expression's repr is the Python code that evaluates it
        return f"{self._global(sc.error)}({sc.keyfunc!r})"

    def _length_reader(self, lengthfield: Construct) -> tuple[str, int]:
        """An expression reading the length at ``pos`` and its size in bytes."""
        field = _field(lengthfield)
        if isinstance(field, FormatField):
            sname = self._alias("fmt")
            self.code.append(f"{sname} = struct.Struct({field.fmtstr!r})")
            return f"{sname}.unpack_from(data, pos)[0]", field.length
        if isinstance(field, BytesInteger) and not field.swapped and not field.signed:
            n = field.length
            return f"int.from_bytes(data[pos:pos + {n}], 'big')", n
        raise NotImplementedError(f"unsupported length field {lengthfield!r}")

    def _length_writer(self, lengthfield: Construct) -> str:
        field = _field(lengthfield)
        if isinstance(field, FormatField):
            sname = self._alias("fmt")
            self.code.append(f"{sname} = struct.Struct({field.fmtstr!r})")
            return f"{sname}.pack(len(sub))"
        if isinstance(field, BytesInteger) and not field.swapped and not field.signed:
            return f"len(sub).to_bytes({field.length}, 'big')"
        raise NotImplementedError(f"unsupported length field {lengthfield!r}")

    def _parse_sized(self, sc: Sized) -> str:
        read, size = self._length_reader(sc.lengthfield)
        sub = self.parse(sc.subcon)
        err = self._global(sc.error)
        negative = self._global(sc.negative)
        what = sc.what
        fname = self._alias("parse_sized")
        self.code.append(
            f"""
            def {fname}(data, pos, end, this):
                if pos + {size} > end:
                    raise {err}({what!r} + ": length field truncated")
                n = {read}
                pos += {size}
                if n < 0:
                    raise {negative}({what!r} + ": negative length %d" % n)
                stop = pos + n
                if stop > end:
                    raise {err}({what!r} + ": declares %d bytes, %d are left" % (n, end - pos))
                value, pos = {sub}(data, pos, stop, this)
                if pos != stop:
                    raise {err}({what!r} + ": %d bytes left over" % (stop - pos))
                return value, stop
            """
        )
        return fname

    def _runs(self, sc: Struct) -> list[list[Construct]]:
        runs: list[list[Construct]] = []
        for sub in sc.subcons:
            fixed = _fixed_format(sub) is not None
            if fixed and runs and _fixed_format(runs[-1][0]) is not None:
                runs[-1].append(sub)
            else:
                runs.append([sub])
        return runs

    def _parse_record(self, sc: Struct) -> str:
        code = self.code
        fname = self._alias("parse_record")
        lines = [f"def {fname}(data, pos, end, this):", "    this = {'_': this}", "    result = {}"]
        for run in self._runs(sc):
            if _fixed_format(run[0]) is not None:
                fmt = ">" + "".join(_fixed_format(s) or "" for s in run)
                size = struct.calcsize(fmt)
                sname = self._alias("packed")
                code.append(f"{sname} = struct.Struct({fmt!r})")
                names = [s.name for s in run]
                targets = ", ".join(f"v{i}" for i in range(len(run))) + ","
                lines.append(f"    if pos + {size} > end:")
                error = self._global(getattr(sc, "error", MalformedHeaderError))
                lines.append(f"        raise {error}('record truncated: %d of {size} fixed bytes' % (end - pos))")
                lines.append(f"    {targets} = {sname}.unpack_from(data, pos)")
                lines.append(f"    pos += {size}")
                for i, (sub, name) in enumerate(zip(run, names)):
                    value = f"v{i}"
                    field = _field(sub)
                    if isinstance(field, EnumField):
                        enum = self._global(field.enum)
                        known = self._alias("known")
                        code.append(f"{known} = {{int(m): m for m in {enum}}}")
                        value = f"({known}[v{i}] if v{i} in {known} else _enum_convert({enum}, v{i}))"
                    if name:
                        lines.append(f"    result[{name!r}] = this[{name!r}] = {value}")
            else:
                sub = run[0]
                parser = self.parse(sub)
                if sub.name:
                    lines.append(f"    value, pos = {parser}(data, pos, end, this)")
                    lines.append(f"    result[{sub.name!r}] = this[{sub.name!r}] = value")
                else:
                    lines.append(f"    _, pos = {parser}(data, pos, end, this)")
        lines.append("    return result, pos")
        code.append("\n".join(lines))
        return fname

    # -- build
    def build(self, sc: Construct) -> str:
        """The name of an emitted ``f(obj, this) -> bytes``."""
        key = ("bufbuild", id(sc))
        cached = self.code.buildercache.get(key)
        if cached:
            return str(cached)
        name = self._build(_field(sc))
        self.code.buildercache[key] = name
        return name

    def _build(self, sc: Construct) -> str:
        code = self.code
        if isinstance(sc, Leaf):
            return self._leaf(sc, "build_bytes")
        if isinstance(sc, StringMap):
            return "_build_string_map"
        if isinstance(sc, JsonHeader):
            return "_build_json_header"
        if isinstance(sc, NullableString):
            return "_build_nullable_string"
        if isinstance(sc, Reject):
            fname = self._alias("build_reject")
            code.append(
                f"""
                def {fname}(obj, this):
                    raise {self._reject(sc)}
                """
            )
            return fname
        if sc is GreedyBytes:
            fname = self._alias("build_greedy")
            code.append(
                f"""
                def {fname}(obj, this):
                    return obj if type(obj) is bytes else bytes(obj)
                """
            )
            return fname
        if isinstance(sc, Sized):
            sub = self.build(sc.subcon)
            writer = self._length_writer(sc.lengthfield)
            fname = self._alias("build_sized")
            code.append(
                f"""
                def {fname}(obj, this):
                    sub = {sub}(obj, this)
                    return {writer} + sub
                """
            )
            return fname
        if isinstance(sc, Switch):
            table = self._alias("switch_build")
            code.append(f"{table} = {{}}")
            for key, case in sc.cases.items():
                code.append(f"{table}[{_key(key)}] = {self.build(case)}")
            default = self.build(sc.default)
            fname = self._alias("build_switch")
            code.append(
                f"""
                def {fname}(obj, this):
                    return {table}.get({sc.keyfunc!r}, {default})(obj, this)
                """
            )
            return fname
        if isinstance(sc, Struct):
            return self._build_record(sc)
        raise NotImplementedError(f"buffer mode cannot compile {sc!r}")

    def _build_record(self, sc: Struct) -> str:
        code = self.code
        fname = self._alias("build_record")
        lines = [f"def {fname}(obj, this):", "    this = {'_': this}", "    this.update(obj)", "    parts = []"]
        for run in self._runs(sc):
            if _fixed_format(run[0]) is not None:
                fmt = ">" + "".join(_fixed_format(s) or "" for s in run)
                sname = self._alias("packed")
                code.append(f"{sname} = struct.Struct({fmt!r})")
                args = ", ".join(f"obj[{s.name!r}]" for s in run)
                lines.append(f"    parts.append({sname}.pack({args}))")
            else:
                sub = run[0]
                builder = self.build(sub)
                lines.append(f"    parts.append({builder}(obj.get({sub.name!r}), this))")
        lines.append("    return b''.join(parts)")
        code.append("\n".join(lines))
        return fname


# --------------------------------------------------------------------------- bound compilation
#
# Theory of operation.  _BufferEmitter above is the *exact* path: one small
# function per construct, every length checked where it is read, every
# failure raised as the error class the schema declares, values as nested
# dicts.  _FastEmitter compiles the same schema, bound to a value type, into
# one flat function per direction: the code a careful hand-written codec is.
#
# * Parse walks the schema in wire order with a work list (a continuation):
#   fixed-size fields, Sized length prefixes and leaf length heads queue up
#   and are read by one struct.Struct with one bounds check; each Sized then
#   checks that its range fits its parent and holds the fixed fields read
#   with its prefix.  A Switch is a plain if/elif on a local variable, and
#   the rest of the schema is emitted again inside each branch, so each path
#   through the frame is straight-line code.
# * Build walks the same way but collects "pieces" (fixed fields, length
#   prefixes to fill in later, byte strings); at the end of each path every
#   Sized length is a sum of known sizes, all fixed pieces between two byte
#   strings become one pack() call, and the frame is one concatenation.  A
#   NullableString is a branch too (empty: a zero length, no bytes), so the
#   common null remark costs nothing.
# * The fast code keeps every check but none of the error reporting: when a
#   check fails (``raise _Bail``) or anything raises, the function runs the
#   exact path on the same input.  That path raises the precise error, or, for
#   input the fast path merely declines, returns the value the slow way.  So
#   errors cannot differ between the two by construction; values are checked
#   equal by the tests, and ``parse_strict``/``build_strict`` (the fast code
#   without the fallback) let them prove the fast path does not bail on
#   valid input.


class _Bail(Exception):
    """Inside bound code: leave this input to the exact path."""


@dataclass
class _Read:
    """One fixed-size field waiting to be read with its neighbours."""

    fmt: str  # struct format chars ("BH" for a 24-bit length)
    var: str
    table: str | None = None  # an _EnumTable to map the value through
    sized: str | None = None  # the end variable of the Sized this is the length of
    parent_end: str | None = None
    signed: bool = True


@dataclass
class _ParseState:
    pending: list[_Read] = field(default_factory=list)
    group_end: str = "end"  # the bound the pending reads are checked against
    ends: list[str] = field(default_factory=lambda: ["end"])
    at_end: bool = False  # pos is known to equal ends[-1]
    bound: dict[str, str] = field(default_factory=dict)  # field name -> local variable
    raw: dict[str, str] = field(default_factory=dict)  # switch key variable -> its enum table, not applied yet

    def copy(self) -> _ParseState:
        return _ParseState(
            list(self.pending), self.group_end, list(self.ends), self.at_end, dict(self.bound), dict(self.raw)
        )


@dataclass
class _Piece:
    """Part of a built frame: a fixed field (``fmt`` + ``expr``), a length
    prefix to fill in (``sized``), or a byte string (``fmt`` empty)."""

    fmt: str
    expr: str
    sized: int | None = None


@dataclass
class _BuildState:
    pieces: list[_Piece] = field(default_factory=list)
    spans: dict[int, list[int]] = field(default_factory=dict)  # sized id -> [first, last) piece

    def copy(self) -> _BuildState:
        return _BuildState(list(self.pieces), {k: list(v) for k, v in self.spans.items()})


class _KeyPath:
    """Records which field a ``this`` expression names (``this.a``, ``this._.a``)."""

    def __init__(self, keys: tuple[str, ...] = ()) -> None:
        self.keys = keys

    def __getitem__(self, key: str) -> _KeyPath:
        return _KeyPath(self.keys + (key,))


def _this_field(expr: Any) -> str:
    try:
        path = expr(_KeyPath())
    except Exception:  # noqa: BLE001
        path = None
    names = [k for k in getattr(path, "keys", ()) if k != "_"]
    if not isinstance(path, _KeyPath) or len(names) != 1:
        raise NotImplementedError(f"bound compilation needs a this.<field> key, not {expr!r}")
    return str(names[0])


def _fixed(sc: Construct) -> tuple[str, bool] | None:
    """(struct format chars, signed) of a fixed-size field, else None.  A
    24-bit unsigned length reads as "BH" (struct has no 3-byte integers)."""
    sc = _field(sc)
    if isinstance(sc, EnumField):
        sc = sc.subcon
    if isinstance(sc, FormatField) and sc.fmtstr[0] == ">":
        return sc.fmtstr[1:], sc.fmtstr[1:].islower()
    if isinstance(sc, BytesInteger) and sc.length == 3 and not sc.signed and not sc.swapped:
        return "BH", False
    return None


class _FastEmitter:
    """Emits the bound parse and build functions of a schema (see above)."""

    def __init__(self, schema: Construct, factory: Callable[..., Any], fields: Sequence[str]) -> None:
        self.schema = schema
        self.fields = tuple(fields)
        self.ids = itertools.count(1)
        self.namespace: dict[str, Any] = {
            "struct": struct,
            "_Bail": _Bail,
            "FACTORY": factory,
            "_parse_string_map": _parse_string_map,
            "_build_string_map": _build_string_map,
            "_json_header_fields": _json_header_fields,
            "_json_header_bytes": _json_header_bytes,
        }
        self.lines: list[str] = []
        self.paths: dict[str, tuple[str, ...]] = {}  # field -> key path in the exact path's value

    def _name(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids)}"

    def _const(self, prefix: str, value: Any) -> str:
        name = self._name(prefix)
        self.namespace[name] = value
        return name

    def _struct(self, fmt: str) -> str:
        key = f"_struct_{fmt}"
        if key not in self.namespace:
            self.namespace[key] = struct.Struct(">" + fmt)
        return key

    def _emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def _target(self, name: str | None, path: tuple[str, ...]) -> str:
        if name is None:
            return "_"
        if name not in self.fields:
            raise NotImplementedError(f"field {name!r} is not one of {self.fields}")
        if self.paths.setdefault(name, path) != path:
            raise NotImplementedError(f"field {name!r} sits at two places in the schema")
        return f"v_{name}"

    # -- parse

    def parse_source(self, whole: bool = False) -> str:
        """The parse body; ``whole``: the data must end where the schema does."""
        self.lines = []
        self.whole = whole
        self.switch_keys = {f"v_{_this_field(sc.keyfunc)}" for sc in _walk(self.schema) if isinstance(sc, Switch)}
        self._parse([("parse", self.schema, None, ())], _ParseState(), 2)
        return "\n".join(self.lines)

    def _flush(self, st: _ParseState, indent: int) -> None:
        """Read every pending fixed field with one unpack_from."""
        if not st.pending:
            return
        fmt = "".join(r.fmt for r in st.pending)
        size = struct.calcsize(">" + fmt)
        targets: list[str] = []
        for r in st.pending:
            targets += [r.var] if r.fmt != "BH" else [f"{r.var}_hi", f"{r.var}_lo"]
        self._emit(indent, f"if pos + {size} > {st.group_end}: raise _Bail")
        self._emit(indent, f"{', '.join(targets)}, = {self._struct(fmt)}.unpack_from(data, pos)")
        offset = 0
        for r in st.pending:
            offset += struct.calcsize(">" + r.fmt)
            if r.fmt == "BH":
                self._emit(indent, f"{r.var} = {r.var}_hi << 16 | {r.var}_lo")
            if r.table and r.var in self.switch_keys:
                st.raw[r.var] = r.table  # each case of the switch knows its member
            elif r.table:
                self._emit(indent, f"{r.var} = {r.table}[{r.var}]")
            if r.sized:
                inside = size - offset  # the fixed bytes already read from the Sized's range
                self._emit(indent, f"{r.sized} = pos + {offset} + {r.var}")
                check = [f"{r.sized} > {r.parent_end}"]
                if inside or r.signed:
                    check.insert(0, f"{r.var} < {inside}")
                self._emit(indent, f"if {' or '.join(check)}: raise _Bail")
        self._emit(indent, f"pos += {size}")
        st.pending = []
        st.at_end = False

    def _queue(self, st: _ParseState, read: _Read) -> None:
        if not st.pending:
            st.group_end = st.ends[-1]
        st.pending.append(read)

    def _parse(self, tasks: list[tuple[Any, ...]], st: _ParseState, indent: int) -> None:
        while tasks:
            task, tasks = tasks[0], tasks[1:]
            if task[0] == "end":  # a Sized range is over
                end = st.ends.pop()
                self._flush(st, indent)
                if not st.at_end:
                    self._emit(indent, f"if pos != {end}: raise _Bail")
                st.at_end = False
                continue
            _, sc, name, path = task
            sc = _field(sc)
            end = st.ends[-1]
            fixed = _fixed(sc)
            if fixed is not None:
                var = self._target(name, path)
                table = self._const("table", _EnumTable(sc.enum)) if isinstance(sc, EnumField) else None
                self._queue(st, _Read(fixed[0], var, table, signed=fixed[1]))
                if name is not None:
                    st.bound[name] = var
            elif isinstance(sc, Sized):
                lenfmt = _fixed(sc.lengthfield)
                if lenfmt is None:
                    raise NotImplementedError(f"unsupported length field {sc.lengthfield!r}")
                n, e = self._name("n"), self._name("e")
                self._queue(st, _Read(lenfmt[0], n, sized=e, parent_end=end, signed=lenfmt[1]))
                st.ends.append(e)
                tasks = [("parse", sc.subcon, name, path), ("end",), *tasks]
            elif isinstance(sc, Struct):
                tasks = [("parse", sub, sub.name, path + (sub.name,)) for sub in sc.subcons] + tasks
            elif isinstance(sc, Switch):
                self._flush(st, indent)
                key = st.bound.get(_this_field(sc.keyfunc))
                if key is None:
                    raise NotImplementedError(f"switch key {sc.keyfunc!r} is not read before the switch")
                table = st.raw.pop(key, None)
                for i, (value, case) in enumerate(sc.cases.items()):
                    self._emit(indent, f"{'if' if i == 0 else 'elif'} {key} == {_key(value)}:")
                    if table is not None:
                        member = self._const("member", self.namespace[table][int(value)])
                        self._emit(indent + 1, f"{key} = {member}")
                    self._parse([("parse", case, name, path), *tasks], st.copy(), indent + 1)
                self._emit(indent, "else:")
                if table is not None:
                    self._emit(indent + 1, f"{key} = {table}[{key}]")
                self._parse([("parse", sc.default, name, path), *tasks], st.copy(), indent + 1)
                return
            elif isinstance(sc, Reject):
                self._emit(indent, "raise _Bail")
                return
            elif sc is GreedyBytes:
                self._flush(st, indent)
                self._emit(indent, f"{self._target(name, path)} = data[pos:{end}]")
                self._emit(indent, f"pos = {end}")
                st.at_end = True
            elif isinstance(sc, NullableString):
                n, var = self._name("n"), self._target(name, path)
                self._queue(st, _Read("i", n))
                self._flush(st, indent)
                self._emit(indent, f"if {n}:")
                self._emit(indent + 1, f"if {n} < 0 or pos + {n} > {end}: raise _Bail")
                self._emit(indent + 1, f"{var} = data[pos:pos + {n}].decode('utf-8')")
                self._emit(indent + 1, f"pos += {n}")
                self._emit(indent, "else:")
                self._emit(indent + 1, f"{var} = None")
            elif isinstance(sc, StringMap):
                self._flush(st, indent)
                self._emit(indent, f"{self._target(name, path)}, pos = _parse_string_map(data, pos, {end})")
                st.at_end = True
            elif isinstance(sc, JsonHeader):
                self._flush(st, indent)
                names = [self._target(f, path + (f,)) for f in sc.fields]
                self._emit(indent, f"{', '.join(names)}, = _json_header_fields(data, pos, {end})")
                self._emit(indent, f"pos = {end}")
                st.at_end = True
            else:
                raise NotImplementedError(f"bound compilation cannot handle {sc!r}")
        self._flush(st, indent)
        for var, table in st.raw.items():
            self._emit(indent, f"{var} = {table}[{var}]")
        value = f"FACTORY({', '.join(f'v_{f}' for f in self.fields)})"
        if self.whole:
            self._emit(indent, "if pos != end: raise _Bail")
            self._emit(indent, f"return {value}")
        else:
            self._emit(indent, f"return {value}, pos")

    # -- build

    def build_source(self) -> str:
        self.lines = []
        # switch keys are read once, up front: they are also packed
        keys = sorted({_this_field(sc.keyfunc) for sc in _walk(self.schema) if isinstance(sc, Switch)})
        for key in keys:
            self._emit(2, f"v_{key} = obj.{key}")
        self.locals = set(keys)
        self._build([("build", self.schema, None, ())], _BuildState(), 2)
        return "\n".join(self.lines)

    def _value(self, name: str | None, path: tuple[str, ...]) -> str:
        if name is None:
            raise NotImplementedError("bound compilation cannot build an unnamed field")
        self._target(name, path)
        return f"v_{name}" if name in self.locals else f"obj.{name}"

    def _build(self, tasks: list[tuple[Any, ...]], st: _BuildState, indent: int) -> None:
        while tasks:
            task, tasks = tasks[0], tasks[1:]
            if task[0] == "end":
                st.spans[task[1]][1] = len(st.pieces)
                continue
            _, sc, name, path = task
            sc = _field(sc)
            fixed = _fixed(sc)
            if fixed is not None:
                st.pieces.append(_Piece(fixed[0], self._value(name, path)))
            elif isinstance(sc, Sized):
                lenfmt = _fixed(sc.lengthfield)
                if lenfmt is None:
                    raise NotImplementedError(f"unsupported length field {sc.lengthfield!r}")
                k = next(self.ids)
                st.pieces.append(_Piece(lenfmt[0], f"n_{k}", sized=k))
                st.spans[k] = [len(st.pieces), -1]
                tasks = [("build", sc.subcon, name, path), ("end", k), *tasks]
            elif isinstance(sc, Struct):
                tasks = [("build", sub, sub.name, path + (sub.name,)) for sub in sc.subcons] + tasks
            elif isinstance(sc, Switch):
                key = f"v_{_this_field(sc.keyfunc)}"
                for i, (value, case) in enumerate(sc.cases.items()):
                    self._emit(indent, f"{'if' if i == 0 else 'elif'} {key} == {_key(value)}:")
                    self._build([("build", case, name, path), *tasks], st.copy(), indent + 1)
                self._emit(indent, "else:")
                self._build([("build", sc.default, name, path), *tasks], st.copy(), indent + 1)
                return
            elif isinstance(sc, Reject):
                self._emit(indent, "raise _Bail")
                return
            elif sc is GreedyBytes:
                var = self._name("b")
                self._emit(indent, f"{var} = {self._value(name, path)}")
                self._emit(indent, f"if type({var}) is not bytes: raise _Bail")
                st.pieces.append(_Piece("", var))
            elif isinstance(sc, NullableString):
                # two paths: empty (a zero length and nothing else) or not
                var = self._name("s")
                self._emit(indent, f"{var} = {self._value(name, path)}")
                self._emit(indent, f"if not {var}:")
                empty = st.copy()
                empty.pieces.append(_Piece("i", "0"))
                self._build(list(tasks), empty, indent + 1)
                self._emit(indent, "else:")
                raw = self._name("b")
                self._emit(indent + 1, f"{raw} = {var}.encode('utf-8')")
                st.pieces += [_Piece("i", f"len({raw})"), _Piece("", raw)]
                self._build(tasks, st, indent + 1)
                return
            elif isinstance(sc, StringMap):
                var = self._name("b")
                self._emit(indent, f"{var} = _build_string_map({self._value(name, path)})")
                st.pieces.append(_Piece("", var))
            elif isinstance(sc, JsonHeader):
                var = self._name("b")
                args = ", ".join(self._value(f, path + (f,)) for f in sc.fields)
                self._emit(indent, f"{var} = _json_header_bytes({args})")
                st.pieces.append(_Piece("", var))
            else:
                raise NotImplementedError(f"bound compilation cannot handle {sc!r}")
        self._finish(st, indent)

    def _finish(self, st: _BuildState, indent: int) -> None:
        """Compute the lengths, innermost first, then pack and join."""
        pieces = st.pieces
        for k, (first, last) in sorted(st.spans.items(), key=lambda kv: -kv[1][0]):
            size, terms, i = 0, [], first
            while i < last:
                piece = pieces[i]
                if piece.fmt:
                    size += struct.calcsize(">" + piece.fmt)
                    if piece.sized is not None:  # an inner Sized: its length is known
                        terms.append(f"n_{piece.sized}")
                        i = st.spans[piece.sized][1]
                        continue
                else:
                    terms.append(f"len({piece.expr})")
                i += 1
            self._emit(indent, f"n_{k} = {' + '.join([str(size)] * bool(size) + terms) or '0'}")
        parts: list[str] = []
        run: list[_Piece] = []
        for piece in [*pieces, _Piece("", "")]:
            if piece.fmt:
                run.append(piece)
                continue
            if run:
                fmt = "".join(p.fmt for p in run)
                args = []
                for p in run:
                    args += [p.expr] if p.fmt != "BH" else [f"{p.expr} >> 16", f"{p.expr} & 0xFFFF"]
                parts.append(f"{self._struct(fmt)}.pack({', '.join(args)})")
                run = []
            if piece.expr:
                parts.append(piece.expr)
        self._emit(indent, f"return {' + '.join(parts) or repr(b'')}")

    # -- the exact path's values

    def exact_value_source(self) -> str:
        """``FACTORY(...)`` of a nested dict from the exact parser."""
        args = ", ".join("value" + "".join(f"[{k!r}]" for k in self.paths[f]) for f in self.fields)
        return f"FACTORY({args})"

    def exact_input_source(self) -> str:
        """The nested dict the exact builder takes, from the object."""
        tree: dict[str, Any] = {}
        for f in self.fields:
            node = tree
            *scopes, last = self.paths[f]
            for scope in scopes:
                node = node.setdefault(scope, {})
            node[last] = f"obj.{f}"

        def render(node: dict[str, Any] | str) -> str:
            if isinstance(node, str):
                return node
            return "{" + ", ".join(f"{k!r}: {render(v)}" for k, v in node.items()) + "}"

        return render(tree)


def _walk(sc: Construct) -> Any:
    sc = _field(sc)
    yield sc
    if isinstance(sc, Struct):
        for sub in sc.subcons:
            yield from _walk(sub)
    elif isinstance(sc, Switch):
        for case in sc.cases.values():
            yield from _walk(case)
        yield from _walk(sc.default)
    elif isinstance(sc, Subconstruct) and not isinstance(sc, EnumField):
        yield from _walk(sc.subcon)


class BufferCodec:
    """A schema compiled for buffer mode: ``parse(data)`` and ``build(obj)``.

    ``parse_at(data, pos, end, this)`` reads ``data[pos:end]`` and returns
    ``(value, new_pos)``; ``build_bytes(obj, this)`` returns bytes.  Both are
    plain generated functions.
    """

    def __init__(self, parse: Callable[..., tuple[Any, int]], build: Callable[..., bytes], source: str) -> None:
        self.parse_at = parse
        self.build_bytes = build
        self.source = source


_T = TypeVar("_T")
_V = TypeVar("_V")


class BoundCodec(BufferCodec):
    """A schema compiled for a value type (``compile_buffer(..., factory=...)``).

    ``parse_at`` / ``build_bytes`` run the fast code and fall back to the exact
    path, which ``parse_exact`` / ``build_exact`` run alone; ``parse_strict`` /
    ``build_strict`` run the fast code alone, raising ``_Bail`` where it would
    hand over (for tests).  :meth:`encoder` and :meth:`decoder` make public
    entry points with the fast code inlined, so the usual call is one call.
    """

    def __init__(self, namespace: dict[str, Any], parse_body: str, whole_body: str, build_body: str, source: str) -> None:
        super().__init__(namespace["parse"], namespace["build"], source)
        self.parse_exact: Callable[..., tuple[Any, int]] = namespace["parse_exact"]
        self.build_exact: Callable[..., bytes] = namespace["build_exact"]
        self.parse_strict: Callable[..., tuple[Any, int]] = namespace["parse_strict"]
        self.build_strict: Callable[..., bytes] = namespace["build_strict"]
        self._namespace = namespace
        self._whole_body = whole_body
        self._build_body = build_body

    def _define(self, name: str, source: str, fallback: Callable[..., Any], like: Callable[..., Any]) -> Any:
        namespace = dict(self._namespace, FALLBACK=fallback)
        exec(compile(source, f"<rmqwire-generated-{name}>", "exec"), namespace)
        function = namespace[name]
        for attr in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
            setattr(function, attr, getattr(like, attr))
        function.__wrapped__ = like  # inspect.signature shows the typed one
        self.source += "\n" + source
        return function

    def encoder(self, fallback: Callable[[_T], bytes], exact_type: type) -> Callable[[_T], bytes]:
        """``fallback`` (which must hold the full semantics: type checks,
        error mapping) with the fast build inlined for ``exact_type`` objects."""
        source = (
            "def encoder(obj):\n"
            "    if type(obj) is EXACT_TYPE:\n"
            "        try:\n"
            f"{self._build_body}\n"
            "        except Exception:\n"
            "            pass\n"
            "    return FALLBACK(obj)\n"
        )
        self._namespace["EXACT_TYPE"] = exact_type
        return self._define("encoder", source, fallback, fallback)  # type: ignore[no-any-return]

    def decoder(self, fallback: Callable[[_V], _T]) -> Callable[[_V], _T]:
        """``fallback`` (the full semantics: any input, trailing bytes, error
        mapping) with the fast parse of a whole ``bytes`` frame inlined."""
        source = (
            "def decoder(data):\n"
            "    if type(data) is bytes:\n"
            "        pos = 0\n"
            "        end = len(data)\n"
            "        try:\n"
            f"{self._whole_body}\n"
            "        except Exception:\n"
            "            pass\n"
            "    return FALLBACK(data)\n"
        )
        return self._define("decoder", source, fallback, fallback)  # type: ignore[no-any-return]


def _exec(code: CodeGen, extra: str) -> dict[str, Any]:
    source = code.toString() + extra
    namespace: dict[str, Any] = {}
    exec(compile(source, "<rmqwire-generated>", "exec"), namespace)
    namespace["__source__"] = source
    return namespace


def _compile_exact(schema: Construct) -> dict[str, Any]:
    code = CodeGen()
    code.append(
        """
        # generated by rmqwire from the construct schema; do not edit
        import struct
        """
    )
    emitter = _BufferEmitter(code)
    parse = emitter.parse(schema)
    build = emitter.build(schema)
    return _exec(code, f"\nROOT_PARSE = {parse}\nROOT_BUILD = {build}\n")


def compile_buffer(schema: Construct) -> BufferCodec:
    """Compile ``schema`` for buffer mode and return its parse/build pair,
    working on nested dicts as the interpreted schema does on ``Container`` s."""
    ns = _compile_exact(schema)
    return BufferCodec(ns["ROOT_PARSE"], ns["ROOT_BUILD"], ns["__source__"])


def compile_bound(schema: Construct, factory: Callable[..., Any], fields: Sequence[str]) -> BoundCodec:
    """Compile ``schema`` bound to a value type: ``fields`` names every leaf
    field of the schema (each once, wherever a Switch puts it); ``parse_at``
    returns ``factory(*values in fields order)`` and ``build_bytes`` reads
    those names as attributes of its argument.  See :class:`_FastEmitter`."""
    ns = _compile_exact(schema)
    fast = _FastEmitter(schema, factory, fields)
    parse_body = fast.parse_source()
    whole_body = _indent(fast.parse_source(whole=True), 1)
    build_body = fast.build_source()
    missing = set(fields) - set(fast.paths)
    if missing:
        raise NotImplementedError(f"fields not in the schema: {sorted(missing)}")
    fast.namespace.update(EXACT_PARSE=ns["ROOT_PARSE"], EXACT_BUILD=ns["ROOT_BUILD"])
    source = f"""\
# generated by rmqwire from the construct schema, bound to {getattr(factory, '__qualname__', factory)}; do not edit
def parse_exact(data, pos, end, this=None):
    value, pos = EXACT_PARSE(data, pos, end, this)
    return {fast.exact_value_source()}, pos

def build_exact(obj, this=None):
    return EXACT_BUILD({fast.exact_input_source()}, this)

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
    except Exception:
        pass
    return parse_exact(data, start, end, this)  # raises the precise error

def build(obj, this=None):
    try:
{build_body}
    except Exception:
        pass
    return build_exact(obj, this)  # raises the precise error
"""
    exec(compile(source, "<rmqwire-generated-bound>", "exec"), fast.namespace)
    return BoundCodec(fast.namespace, parse_body, whole_body, _indent(build_body, 1), source)


def _indent(text: str, levels: int) -> str:
    return "\n".join("    " * levels + line if line else line for line in text.split("\n"))
