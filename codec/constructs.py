"""The nodes wire schemas are declared with.

The RocketMQ wire format is declared with ordinary ``construct`` building
blocks (``Int16sb``, ``Switch``, ``GreedyBytes``, ``this`` expressions) plus
the nodes below.  Each node works interpreted, like any construct, and
raises the :mod:`codec.errors` class it is declared with; :mod:`codec.gen`
compiles a schema of them to plain functions (and is what construct's own
``.compile()`` runs for a :class:`Sized` or :class:`Record` root).

* :class:`Record`: a ``Struct`` whose truncation raises its declared error;
* :class:`Sized`: a length-prefixed range its subcon must fill exactly (the
  length may count itself, as a stored message's TOTALSIZE does);
* :class:`EnumField`, :class:`HostPort`: fixed-size values;
* leaves (:class:`Leaf`): :class:`NullableString`, :class:`StringMap`,
  :class:`JsonHeader`, :class:`Utf8Text`, with one implementation each,
  shared by the interpreted and the generated code;
* :class:`Reject`: the default case of a ``Switch`` whose key has no meaning.
"""

from __future__ import annotations

import io
import ipaddress
import socket
import struct
from collections.abc import Callable, Mapping
from typing import Any

from construct import (
    Construct,
    ConstructError,
    FormatField,
    StreamError,
    Struct,
    Subconstruct,
    stream_read,
    stream_read_entire,
    stream_write,
)
from construct.core import CodeGen

from .errors import CodecError, EncodeError, MalformedHeaderError
from .json_header import _JSON_FIELDS, _build_json_header, _json_header_bytes, _json_header_fields, _parse_json_header

__all__ = [
    "Record",
    "Sized",
    "EnumField",
    "HostPort",
    "Leaf",
    "NullableString",
    "StringMap",
    "JsonHeader",
    "Utf8Text",
    "Reject",
    "Records",
    "pack_host_port",
]


# --------------------------------------------------------------------------- leaves


class Leaf(Construct):  # type: ignore[misc]
    """A node with one implementation for every path.

    ``parse_at(data, pos, end, this) -> (value, pos)`` and
    ``build_bytes(obj, this) -> bytes`` serve the interpreted schema;
    ``fast_parse(data, pos, end) -> (value, pos)`` and
    ``fast_build(value) -> bytes`` are what generated code calls (by default
    the same).  A leaf with ``fields`` parses to a dict of those names:
    ``fast_parse`` then returns their values as a tuple, always reading to
    the end of its range, and ``fast_build`` takes them as arguments.
    Subclasses raise their own :mod:`codec.errors` class on bad input.
    """

    fields: tuple[str, ...] = ()
    #: ``parse_at`` always returns the end of its range (so no check is needed)
    to_end: bool = True
    #: earlier fields of the record the value depends on: ``this[name]``
    #: interpreted, extra arguments of ``fast_parse`` in generated code
    needs: tuple[str, ...] = ()

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[Any, int]:
        raise NotImplementedError

    def build_bytes(self, obj: Any, this: Any) -> bytes:
        raise NotImplementedError

    def fast_parse(self, data: bytes, pos: int, end: int, *needed: Any) -> Any:
        return self.parse_at(data, pos, end, dict(zip(self.needs, needed)))

    def inline_parse(self, var: str, start: str, end: str) -> list[str] | None:
        """Source lines that set ``var`` to the value of ``data[start:end]``,
        for generated code to run in place of a call (None: call).  They may
        raise ``UnicodeDecodeError`` (the interpreted path then decides)."""
        return None

    def inline_build(self, var: str, value: str) -> list[str] | None:
        """Source lines that set ``var`` to the bytes of ``value`` (an
        expression), for generated code to run in place of a call (None:
        call).  Whatever they raise sends the value to the interpreted path."""
        return None

    def fast_build(self, *values: Any) -> bytes:
        return self.build_bytes(values[0], None)

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


class NullableString(Leaf):
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


class StringMap(Leaf):
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

    fast_parse = staticmethod(_parse_string_map)
    fast_build = staticmethod(_build_string_map)

    def inline_build(self, var: str, value: str) -> list[str]:
        # _build_string_map's usual case in place; the rest is its exact loop
        return [
            f"m_ = {value}",
            "try:",
            "    if ''.join(m_).isascii() and ''.join(m_.values()).isascii():",
            "        t_ = []",
            "        for k_, w_ in m_.items():",
            "            t_ += (KEY_LENGTH_TEXT[len(k_)], k_, VALUE_LENGTH_TEXT[len(w_)], w_)",
            f"        {var} = ''.join(t_).encode('latin-1')",
            "    else:",
            f"        {var} = BUILD_STRING_MAP_EXACT(m_)",
            "except IndexError:  # a key of 256 or a value of 2048 characters or more",
            f"    {var} = BUILD_STRING_MAP_EXACT(m_)",
        ]


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
_V4 = struct.Struct(">4si")
_V6 = struct.Struct(">16si")
_ntoa = socket.inet_ntoa


def _v4_text(address: bytes, port: int) -> str:
    return f"{_ntoa(address)}:{port}"


# A pulled batch names the same few hosts (one store host, a few born
# hosts) in every record: their text is kept, up to a bound so that a
# stream of distinct hosts cannot grow it without end.
_V4_TEXTS: dict[tuple[bytes, int], str] = {}
_V4_TEXTS_MAX = 4096
v4_text_known = _V4_TEXTS.get


def v4_text_new(address: bytes, port: int) -> str:
    """``"ip:port"`` of an IPv4 address not seen lately (remembered)."""
    if len(_V4_TEXTS) >= _V4_TEXTS_MAX:
        _V4_TEXTS.clear()
    text = _V4_TEXTS[(address, port)] = f"{_ntoa(address)}:{port}"
    return text


def _v6_text(address: bytes, port: int) -> str:
    return f"[{ipaddress.IPv6Address(address)}]:{port}"


class HostPort(Construct):  # type: ignore[misc]
    """A socket address as Java's ``ByteBuffer`` holds it: the IPv4 (4 bytes)
    or, with ``v6``, IPv6 (16 bytes) address and an int32 port.  The value is
    ``"ip:port"``, ``"[ip6]:port"`` for IPv6.  A record picks the family
    with a ``Switch`` on its flags."""

    def __init__(self, v6: bool, error: type[CodecError], what: str) -> None:
        super().__init__()
        self.v6 = v6
        self.error = error
        self.what = what
        self.address_size = 16 if v6 else 4
        self.packer = _V6 if v6 else _V4
        self.text: Callable[[bytes, int], str] = _v6_text if v6 else _v4_text

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        size = self.packer.size
        try:
            data = stream_read(stream, size, path)
        except StreamError:
            raise self.error(f"{self.what}: record truncated (fewer than {size} bytes)") from None
        return self.text(*self.packer.unpack(data))

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        data = self.build_bytes(obj, context)
        stream_write(stream, data, len(data), path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        return int(self.packer.size)

    def build_bytes(self, obj: str, this: Any) -> bytes:
        return pack_host_port(obj, self.v6, self.what)


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


class JsonHeader(Leaf):
    """The JSON header (``RemotingSerializable``, fastjson) as a construct.

    Parses to the same logical fields as the ROCKETMQ binary header.  Reading
    is as lenient as fastjson: any key order, trailing whitespace (the C++
    client's ``\\n``), missing ``remark``/``extFields``, and extFields values
    that are JSON numbers or booleans, normalised to the strings a Java broker
    sees.  Writing follows fastjson's defaults: keys sorted, nulls omitted,
    enums by name.
    """

    #: the names of the values it parses to, in order (bound compilation)
    fields: tuple[str, ...] = _JSON_FIELDS

    def parse_at(self, data: bytes, pos: int, end: int, this: Any) -> tuple[dict[str, Any], int]:
        return _parse_json_header(data, pos, end, this)

    def build_bytes(self, obj: Mapping[str, Any], this: Any) -> bytes:
        return _build_json_header(obj, this)

    fast_parse = staticmethod(_json_header_fields)
    fast_build = staticmethod(_json_header_bytes)


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

# construct's own compiler enters through the root's stream-mode methods;
# both hand the bytes to the code codec.gen generates for the root.


def _emit_root_parse(self: Construct, code: CodeGen) -> str:
    from . import codecs  # which imports this module

    key = codecs.compile_for_construct(self)
    fname = f"parse_root_{code.allocateId()}"
    code.append(
        f"""
        from {codecs.__name__} import COMPILED as _rmqwire_compiled
        def {fname}(io, this):
            data = io.read()
            value, pos = _rmqwire_compiled[{key}].parse_at(data, 0, len(data))
            io.seek(pos - len(data), 1)
            return Container(value)  # attribute access, as construct's own records give
        """
    )
    return f"{fname}(io, this)"


def _emit_root_build(self: Construct, code: CodeGen) -> str:
    from . import codecs

    key = codecs.compile_for_construct(self)
    code.append(f"from {codecs.__name__} import COMPILED as _rmqwire_compiled")
    return f"(io.write(_rmqwire_compiled[{key}].build_bytes(obj)), obj)[1]"


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
        inclusive: bool = False,
        length_name: str | None = None,
    ) -> None:
        super().__init__(subcon)
        self.lengthfield = lengthfield
        self.error = error
        self.negative = negative or error  # a negative length is corrupt, not short
        self.what = what
        #: the length counts its own bytes too (TOTALSIZE): how many
        self.inclusive = lengthfield.sizeof() if inclusive else 0
        #: the length is also the value of this field of the (record) subcon
        self.length_name = length_name

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        try:
            length = self.lengthfield._parsereport(stream, context, path)
        except StreamError:
            raise self.error(f"{self.what}: length field truncated") from None
        if length < 0:
            raise self.negative(f"{self.what}: negative length {length}")
        if length < self.inclusive:
            raise self.error(f"{self.what}: length {length} does not cover its own {self.inclusive} bytes")
        size = length - self.inclusive
        here = stream.tell()
        left = stream.seek(0, io.SEEK_END) - here
        stream.seek(here)
        if size > left:
            raise self.error(f"{self.what}: declares {length} bytes, {left + self.inclusive} are left")
        data = stream_read(stream, size, path)
        sub = io.BytesIO(data)
        value = self.subcon._parsereport(sub, context, path)
        if sub.tell() != size:
            raise self.error(f"{self.what}: {size - sub.tell()} bytes left over")
        if self.length_name is not None:
            value[self.length_name] = length
        return value

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        sub = io.BytesIO()
        value = self.subcon._build(obj, sub, context, path)
        data = sub.getvalue()
        self.lengthfield._build(len(data) + self.inclusive, stream, context, path)
        stream_write(stream, data, len(data), path)
        return value

    def _sizeof(self, context: Any, path: str) -> int:
        raise ConstructError("Sized has no fixed size")

    _emitparse = _emit_root_parse
    _emitbuild = _emit_root_build


class Records(Subconstruct):  # type: ignore[misc]
    """``subcon`` repeated back to back to the end of its range (a pull
    body's records): a list.  Unlike ``GreedyRange``, a record that does not
    parse is an error, not the end of the list."""

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        data = stream_read_entire(stream, path)
        sub = io.BytesIO(data)
        items = []
        while sub.tell() < len(data):
            items.append(self.subcon._parsereport(sub, context, path))
        return items

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        for item in obj:
            self.subcon._build(item, stream, context, path)
        return obj

    _emitparse = _emit_root_parse
    _emitbuild = _emit_root_build


class Record(Struct):  # type: ignore[misc]
    """A ``Struct`` whose fields running out raise ``error``.

    Interpreted, it parses to a ``Container``; generated code parses it to
    the value type it is bound to, or to a plain ``dict`` with the same keys,
    and reads every run of adjacent fixed-size fields with one
    ``struct.Struct``.
    """

    def __init__(self, *subcons: Construct, error: type[CodecError] = MalformedHeaderError, **subconskw: Construct) -> None:
        super().__init__(*subcons, **subconskw)
        self.error = error

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        try:
            return super()._parse(stream, context, path)
        except StreamError:
            raise self.error("record truncated in its fixed fields") from None

    _emitparse = _emit_root_parse
    _emitbuild = _emit_root_build
