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
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Mapping
from typing import Any

from construct import (
    BytesInteger,
    Construct,
    ConstructError,
    Container,
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
from construct.core import CodeGen, Compiled, GreedyBytes

from .enums import LanguageCode
from .errors import CodecError, EncodeError, MalformedHeaderError

__all__ = [
    "Record",
    "Sized",
    "EnumField",
    "NullableString",
    "StringMap",
    "JsonHeader",
    "Reject",
    "compile_buffer",
    "BufferCodec",
]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _field(sc: Construct) -> Construct:
    while isinstance(sc, Renamed):
        sc = sc.subcon
    return sc


# --------------------------------------------------------------------------- leaves


class EnumField(Subconstruct):  # type: ignore[misc]
    """A fixed-size integer field read as an ``IntEnum`` member.

    Values the enum does not know are kept as plain ints (or the enum's own
    pseudo-members, as :class:`~codec.enums.LanguageCode` makes them), so an
    unknown value never fails here: whoever needs a known one decides.
    """

    def __init__(self, subcon: FormatField, enum: type) -> None:
        super().__init__(subcon)
        self.enum = enum
        self.known = {int(m): m for m in enum}  # type: ignore[attr-defined]

    def convert(self, value: int) -> Any:
        return self.known[value] if value in self.known else _enum_convert(self.enum, value)

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


def _parse_string_map(data: bytes, pos: int, end: int, this: Any) -> tuple[dict[str, str], int]:
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


def _build_string_map(obj: Mapping[str, str], this: Any) -> bytes:
    pack16 = _I16.pack
    pack32 = _I32.pack
    parts = []
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


# --------------------------------------------------------------------------- JSON header

_JSON_FIELDS = ("code", "language", "version", "opaque", "flag", "remark", "ext_fields")
_loads = json.loads
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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


def _parse_json_header(data: bytes, pos: int, end: int, this: Any) -> tuple[dict[str, Any], int]:
    try:
        header = _loads(data[pos:end].decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedHeaderError(f"JSON header: invalid UTF-8 ({exc.reason})") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise MalformedHeaderError(f"JSON header: not JSON ({exc})") from None
    except RecursionError:
        raise MalformedHeaderError("JSON header: nested too deeply") from None
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
    return {
        "code": _json_int(header, "code"),
        "language": lang,
        "version": _json_int(header, "version"),
        "opaque": _json_int(header, "opaque"),
        "flag": _json_int(header, "flag"),
        "remark": remark,
        "ext_fields": ext_fields,
    }, end


def _check_int32(name: str, value: int) -> int:
    if type(value) is not int and not isinstance(value, int) or not _INT32_MIN <= value <= _INT32_MAX:
        raise EncodeError(f"{name} must be a 32-bit integer, not {value!r}")
    return value


# Only real members are cached, by identity: a pseudo-member made for an
# unknown JSON name (LanguageCode.from_name) compares equal to OTHER.
_LANGUAGE_JSON: dict[int, str] = {id(m): _dumps(m.name) for m in LanguageCode}


def _build_json_header(obj: Mapping[str, Any], this: Any) -> bytes:
    # fastjson's default features: keys sorted, nulls omitted, enums by name.
    language = obj["language"]
    lang = _LANGUAGE_JSON.get(id(language))
    if lang is None:
        lang = _dumps(language.name if isinstance(language, LanguageCode) else LanguageCode(language).name)
    parts = ['{"code":', str(_check_int32("code", obj["code"]))]
    ext = obj["ext_fields"]
    if ext:
        for key, value in ext.items():
            if type(key) is not str or type(value) is not str:
                raise EncodeError(f"extFields must map str to str, not {key!r}: {value!r}")
        parts.append(',"extFields":')
        parts.append(_dumps(ext))
    parts.append(',"flag":')
    parts.append(str(_check_int32("flag", obj["flag"])))
    parts.append(',"language":')
    parts.append(lang)
    parts.append(',"opaque":')
    parts.append(str(_check_int32("opaque", obj["opaque"])))
    remark = obj["remark"]
    if remark is not None:
        if type(remark) is not str:
            raise EncodeError(f"remark must be a string, not {remark!r}")
        parts.append(',"remark":')
        parts.append(_dumps(remark))
    parts.append(',"serializeTypeCurrentRPC":"JSON","version":')
    parts.append(str(_check_int32("version", obj["version"])))
    parts.append("}")
    return "".join(parts).encode("utf-8")


class JsonHeader(Construct):  # type: ignore[misc]
    """The JSON header (``RemotingSerializable``, fastjson) as a construct.

    Parses to the same logical fields as the ROCKETMQ binary header.  Reading
    is as lenient as fastjson: any key order, trailing whitespace (the C++
    client's ``\\n``), missing ``remark``/``extFields``, and extFields values
    that are JSON numbers or booleans, normalised to the strings a Java broker
    sees.  Writing follows fastjson's defaults: keys sorted, nulls omitted,
    enums by name.
    """

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

    def __init__(self, lengthfield: Construct, subcon: Construct, error: type[CodecError], what: str) -> None:
        super().__init__(subcon)
        self.lengthfield = lengthfield
        self.error = error
        self.what = what

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        try:
            length = self.lengthfield._parsereport(stream, context, path)
        except StreamError:
            raise self.error(f"{self.what}: length field truncated") from None
        if length < 0:
            raise self.error(f"{self.what}: negative length {length}")
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
    it parses to a plain ``dict`` with the same keys.
    """


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
        return field.fmtstr[1:]
    return None


class _BufferEmitter:
    """Emits buffer-mode parse/build functions for a schema into a CodeGen."""

    def __init__(self, code: CodeGen) -> None:
        self.code = code
        code.append(
            """
            from codec.constructs import _parse_nullable_string, _build_nullable_string, _enum_convert
            from codec.constructs import _parse_string_map, _build_string_map
            from codec.constructs import _parse_json_header, _build_json_header
            from codec.errors import MalformedHeaderError, EncodeError
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

    def _parse(self, sc: Construct) -> str:
        code = self.code
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
                    raise {err}({what!r} + ": negative length %d" % n)
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
                lines.append(f"        raise MalformedHeaderError('record truncated: %d of {size} fixed bytes' % (end - pos))")
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


class BufferCodec:
    """A schema compiled for buffer mode: ``parse(data)`` and ``build(obj)``.

    ``parse`` takes the whole of ``data`` and returns ``(value, end)``;
    ``build`` returns bytes.  Both are plain generated functions.
    """

    def __init__(self, parse: Callable[[bytes, int, int, Any], tuple[Any, int]], build: Callable[[Any, Any], bytes], source: str) -> None:
        self.parse_at = parse
        self.build_bytes = build
        self.source = source


def _exec(code: CodeGen, extra: str) -> dict[str, Any]:
    source = code.toString() + extra
    namespace: dict[str, Any] = {}
    exec(compile(source, "<rmqwire-generated>", "exec"), namespace)
    namespace["__source__"] = source
    return namespace


def compile_buffer(schema: Construct) -> BufferCodec:
    """Compile ``schema`` for buffer mode and return its parse/build pair."""
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
    ns = _exec(code, f"\nROOT_PARSE = {parse}\nROOT_BUILD = {build}\n")
    return BufferCodec(ns["ROOT_PARSE"], ns["ROOT_BUILD"], ns["__source__"])


