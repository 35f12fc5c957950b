"""The machinery shared by every typed custom header: one declarative wire
table per header, and the conversions derived from it.

Mirrors the reflection in Java's ``RemotingCommand.makeCustomHeaderToNet``
(object -> ``extFields``) and ``decodeCommandCustomHeaderDirectly``
(``extFields`` -> object), and for ``SendMessageRequestHeaderV2`` its
``FastCodesHeader`` encoder (letters ``a``..``n`` in order).  Java derives
the wire keys from field names by reflection; here each header declares a
:class:`WireTable` instead, whose rows name the Java field (the V1 / JSON
key), the optional V2 letter, our snake_case attribute, the Java type and
whether Java marks the field ``@CFNotNull``.  :class:`CustomHeader` turns that
table into ``from_command`` / ``from_ext_fields`` / ``to_ext_fields``, so no
header carries hand-written conversion code.

Conversion rules (``protocol.md`` 4.1):

* ``Integer`` / ``Long``: ASCII decimal with an optional sign, as
  ``Integer.parseInt`` / ``Long.parseLong`` accept, within the Java type's
  range.  Anything else raises :class:`~codec.errors.MissingHeaderFieldError`
  (Java only logs and leaves the field null; we fail at the boundary instead).
* ``Boolean``: written ``"true"`` / ``"false"``; read as ``True`` for a
  case-insensitive ``"true"`` (``Boolean.parseBoolean``) **and also for
  ``"1"``**.  That is a deliberate deviation from Java: the real C++ client
  sends ``"batch":"1"`` for its batches (golden ``cpp.jsonl`` seq 15, a
  jsoncpp ``bool`` written as a number), and a broker built on these headers
  must store them as batches.  Every other value reads as ``False``.
* ``String``: as is; ``""`` stays ``""``.
* A missing ``@CFNotNull`` key raises ``MissingHeaderFieldError``; a missing
  optional key decodes to ``None`` (not to the dataclass default), so that
  decoding and re-encoding keeps absent keys absent.  ``None`` attributes are
  omitted on encode, as Java omits null fields.
* Keys the table does not name (``AccessKey``, ``Signature``, ``OnsChannel``,
  the other letters of a V1 header ...) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar, cast

from ..command import RemotingCommand
from ..enums import SerializeType
from ..errors import EncodeError, MalformedHeaderError, MissingHeaderFieldError

__all__ = [
    "WireField",
    "WireTable",
    "CustomHeader",
    "String",
    "Integer",
    "Long",
    "Boolean",
]

_H = TypeVar("_H", bound="CustomHeader")

# Java's parseInt/parseLong take an optional sign and ASCII digits only; Python's
# int() would also take spaces, underscores and non-ASCII digits.
# Leading zeros are split off so that a long run of them cannot reach Python's
# int() digit limit: what is left is at most 20 digits or out of range anyway.
_DECIMAL = re.compile(r"([+-]?)0*([0-9]+)")


@dataclass(frozen=True, slots=True)
class WireField:
    """One row of a header's wire table.

    ``name`` is the Java field name, which is the key in V1 headers and in
    every JSON header; ``letter`` is the one-letter key of the V2 send header
    (``None`` for headers without a V2 form).  ``type`` is ``str``, ``int`` or
    ``bool``; ``bits`` is the width of a Java ``Integer`` (32) or ``Long`` (64).
    """

    name: str
    attr: str
    type: type
    required: bool = False
    letter: str | None = None
    bits: int = 32

    def decode(self, raw: str, header: str, key: str) -> str | int | bool:
        """The attribute value for the wire string ``raw``."""
        if self.type is str:
            return raw
        if self.type is bool:
            return raw == "1" or raw.lower() == "true"
        match = _DECIMAL.fullmatch(raw)
        if match is None:
            raise MissingHeaderFieldError(header, key, f"{self._aka(key)}is not an integer: {raw[:64]!r}")
        sign, digits = match.groups()
        limit = 1 << (self.bits - 1)
        value = int(sign + digits) if len(digits) <= 20 else limit
        if not -limit <= value < limit:
            raise MissingHeaderFieldError(
                header, key, f"{self._aka(key)}is out of range for a {self.bits}-bit integer: {raw[:64]!r}"
            )
        return value

    def encode(self, value: object, header: str) -> str:
        """The wire string for the attribute value ``value`` (not ``None``)."""
        if self.type is bool:
            if not isinstance(value, bool):
                raise EncodeError(f"{header}.{self.attr} must be a bool, not {type(value).__name__}")
            return "true" if value else "false"
        if self.type is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise EncodeError(f"{header}.{self.attr} must be an int, not {type(value).__name__}")
            limit = 1 << (self.bits - 1)
            if not -limit <= value < limit:
                raise EncodeError(f"{header}.{self.attr} = {value} does not fit a {self.bits}-bit integer")
            # int() first: str() of an IntEnum member is its name on Python 3.10.
            return str(int(value))
        if not isinstance(value, str):
            raise EncodeError(f"{header}.{self.attr} must be a str, not {type(value).__name__}")
        return str.__str__(value)

    def _aka(self, key: str) -> str:
        # Letters alone say little in an error message; name the Java field too.
        return "" if key == self.name else f"({self.name}) "


def String(name: str, attr: str, *, required: bool = False, v2: str | None = None) -> WireField:
    """A Java ``String`` field."""
    return WireField(name, attr, str, required, v2)


def Integer(name: str, attr: str, *, required: bool = False, v2: str | None = None) -> WireField:
    """A Java ``Integer`` / ``int`` field (32-bit)."""
    return WireField(name, attr, int, required, v2, 32)


def Long(name: str, attr: str, *, required: bool = False, v2: str | None = None) -> WireField:
    """A Java ``Long`` / ``long`` field (64-bit)."""
    return WireField(name, attr, int, required, v2, 64)


def Boolean(name: str, attr: str, *, required: bool = False, v2: str | None = None) -> WireField:
    """A Java ``Boolean`` / ``boolean`` field."""
    return WireField(name, attr, bool, required, v2)


class WireTable:
    """The rows of one header, in Java declaration order, with the key orders
    derived from them: V1 keys in declaration order (as reflection walks the
    fields), V2 letters in alphabetical order (as the fast encoder writes)."""

    __slots__ = ("rows", "v1", "v2")

    def __init__(self, *rows: WireField) -> None:
        names = [row.name for row in rows]
        attrs = [row.attr for row in rows]
        letters = [row.letter for row in rows if row.letter is not None]
        for what, seen in (("Java name", names), ("attribute", attrs), ("V2 letter", letters)):
            dupes = {x for x in seen if seen.count(x) > 1}
            if dupes:
                raise TypeError(f"wire table repeats {what} {sorted(dupes)}")
        self.rows: tuple[WireField, ...] = rows
        #: ``(wire key, row)`` pairs in V1 order.
        self.v1: tuple[tuple[str, WireField], ...] = tuple((row.name, row) for row in rows)
        #: ``(wire key, row)`` pairs in V2 order; empty when the header has no V2 form.
        self.v2: tuple[tuple[str, WireField], ...] = tuple(
            sorted(((row.letter, row) for row in rows if row.letter is not None), key=lambda pair: pair[0])
        )
        if self.v2 and len(self.v2) != len(rows):
            raise TypeError("a wire table gives V2 letters to all of its rows or to none")


# --------------------------------------------------------------------------- generated conversions
#
# The generic loops in CustomHeader below are the full semantics.  For the
# usual values (exact str / in-range int / bool, decimal digits on the wire)
# each header also gets straight-line functions generated from its WireTable,
# once, on first use: no per-row dispatch, no getattr, no keyword dataclass
# init.  Anything else they hand to the generic loop, which gives the same
# result or raises its usual error; so the table stays the only declaration.


class _Bail(Exception):
    """The generated code met a value it does not handle: take the generic path."""


def _digits_limit(bits: int) -> int:
    # Unsigned decimal strings shorter than this always fit the Java type.
    return len(str(1 << (bits - 1))) - 1


def _encode_expr(row: WireField, var: str) -> str:
    if row.type is str:
        return f"{var} if type({var}) is str else _bail()"
    if row.type is bool:
        return f"('true' if {var} else 'false') if type({var}) is bool else _bail()"
    limit = 1 << (row.bits - 1)
    return f"str({var}) if type({var}) is int and {-limit} <= {var} < {limit} else _bail()"


def _decode_lines(row: WireField, raw: str, var: str) -> list[str]:
    # One row of a generated decoder: ``raw`` (already read, maybe None) to ``var``.
    lines = [f"    if {raw} is None:"]
    lines.append("        raise _Bail" if row.required else f"        {var} = None")
    if row.type is str:
        lines += [f"    elif type({raw}) is str:", f"        {var} = {raw}"]
    elif row.type is bool:
        lines += [f"    elif {raw} == 'true':", f"        {var} = True",
                  f"    elif {raw} == 'false':", f"        {var} = False"]
    else:
        lines += [f"    elif type({raw}) is str and 0 < len({raw}) <= {_digits_limit(row.bits)} "
                  f"and {raw}.isascii() and {raw}.isdigit():",
                  f"        {var} = int({raw})"]
    lines += ["    else:", "        raise _Bail"]
    return lines


def _bail() -> Any:
    raise _Bail


def _fast_new(cls: type) -> Callable[..., Any] | None:
    # object.__new__ plus the slot setters, as command._fast_constructor;
    # only for the plain frozen, slotted dataclasses headers are.
    if "__post_init__" in cls.__dict__ or not hasattr(cls, "__slots__"):
        return None
    from ..command import _fast_constructor

    return _fast_constructor(cls)


def _generate(cls: type[CustomHeader], v2: bool) -> tuple[Callable[..., dict[str, str]], Callable[..., dict[str, str]], Callable[[Mapping[str, str]], Any]]:
    table = cls.WIRE
    pairs = table.v2 if v2 else table.v1
    order = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    args = [f"v_{row.attr}" for row in table.rows]
    enc: list[str] = ["    out = {}"]
    for key, row in pairs:
        var = f"v_{row.attr}"
        expr = _encode_expr(row, var)
        if row.required:
            enc.append(f"    out[{key!r}] = {expr}")
        else:
            enc += [f"    if {var} is not None:", f"        out[{key!r}] = {expr}"]
    enc.append("    return out")
    dec: list[str] = ["    get = ext.get"]
    for i, (key, row) in enumerate(pairs):
        dec.append(f"    r_{i} = get({key!r})")
        dec += _decode_lines(row, f"r_{i}", f"v_{row.attr}")
    new = _fast_new(cls) if sorted(order) == sorted(row.attr for row in table.rows) else None
    if new is not None:
        dec.append(f"    return NEW({', '.join(f'v_{name}' for name in order)})")
    else:
        dec.append(f"    return CLS({', '.join(f'{row.attr}=v_{row.attr}' for row in table.rows)})")
    source = (
        f"def build({', '.join(args)}):\n"
        "    try:\n" + "\n".join("    " + line for line in enc) + "\n"
        "    except _Bail:\n"
        f"        return SLOW(CLS({', '.join(f'{row.attr}=v_{row.attr}' for row in table.rows)}))\n"
        "def to_ext(self):\n"
        f"    return build({', '.join(f'self.{row.attr}' for row in table.rows)})\n"
        "def parse_fast(ext):\n" + "\n".join(dec) + "\n"
    )
    namespace: dict[str, Any] = {
        "_Bail": _Bail, "_bail": _bail, "CLS": cls, "NEW": new,
        "SLOW": lambda header: header._ext_fields_slow(v2),
    }
    exec(compile(source, f"<rmqwire-{cls.__name__}{'V2' if v2 else ''}-conversions>", "exec"), namespace)
    return namespace["build"], namespace["to_ext"], namespace["parse_fast"]


class CustomHeader:
    """Base of the typed custom headers (Java ``CommandCustomHeader``).

    A subclass is a frozen, slotted, keyword-only dataclass and sets
    :attr:`WIRE`.  Optionally it sets :attr:`REQUEST_CODE` (the code of the
    request it heads) and :attr:`DECODE_CODES` (the codes ``from_command``
    accepts, each mapped to whether its keys are the V2 letters).
    """

    __slots__ = ()

    WIRE: ClassVar[WireTable]
    #: The request code this header travels with; ``None`` for response headers.
    REQUEST_CODE: ClassVar[int | None] = None
    #: Codes ``from_command`` accepts, mapped to "keys are V2 letters";
    #: ``None`` accepts any code with V1 keys (response headers).
    DECODE_CODES: ClassVar[Mapping[int, bool] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A table that names an attribute the dataclass lacks (or the other way
        # round) would only fail at the first decode; fail at import instead.
        annotations = cls.__dict__.get("__annotations__", {})
        fields = {name for name, ann in annotations.items() if "ClassVar" not in str(ann)}
        table = {row.attr for row in cls.WIRE.rows}
        if fields != table:
            raise TypeError(
                f"{cls.__name__}: wire table and fields differ: "
                f"only in table {sorted(table - fields)}, only in fields {sorted(fields - table)}"
            )

    # ----------------------------------------------------------------- decode

    @classmethod
    def from_ext_fields(cls: type[_H], ext_fields: Mapping[str, str], *, v2: bool = False) -> _H:
        """The header held in ``ext_fields``, keyed by Java names, or by V2
        letters when ``v2``.  Raises :class:`~codec.errors.MissingHeaderFieldError`
        for a missing required key or an unconvertible value."""
        pairs = cls.WIRE.v2 if v2 else cls.WIRE.v1
        if not pairs:
            raise TypeError(f"{cls.__name__} has no V2 form")
        try:
            return cls._conversions(v2)[2](ext_fields)  # type: ignore[no-any-return]
        except _Bail:
            return cls._from_ext_fields_slow(ext_fields, v2)

    @classmethod
    def _from_ext_fields_slow(cls: type[_H], ext_fields: Mapping[str, str], v2: bool) -> _H:
        # the full semantics, row by row (the generated code's reference)
        pairs = cls.WIRE.v2 if v2 else cls.WIRE.v1
        header = f"{cls.__name__}V2" if v2 else cls.__name__
        values: dict[str, object] = {}
        for key, row in pairs:
            raw = ext_fields.get(key)
            if raw is None:
                if row.required:
                    raise MissingHeaderFieldError(header, key, f"{row._aka(key)}is missing")
                values[row.attr] = None
            else:
                # fastjson turns JSON scalars into strings; so do we, for callers
                # that built ext_fields by hand.
                values[row.attr] = row.decode(raw if isinstance(raw, str) else str(raw), header, key)
        return cast(Any, cls)(**values)  # type: ignore[no-any-return]

    @classmethod
    def from_command(cls: type[_H], cmd: RemotingCommand) -> _H:
        """The header of ``cmd`` (its ``ext_fields``), read with the keys its
        code calls for.  Raises :class:`~codec.errors.MalformedHeaderError` for
        a code this header does not travel with."""
        if not isinstance(cmd, RemotingCommand):
            raise TypeError(f"from_command() takes a RemotingCommand, not {type(cmd).__name__}")
        codes = cls.DECODE_CODES
        if codes is None:
            v2 = False
        elif cmd.code in codes:
            v2 = codes[cmd.code]
        else:
            expected = ", ".join(str(int(code)) for code in codes)
            raise MalformedHeaderError(f"{cls.__name__} is not the header of code {cmd.code} (expected {expected})")
        return cls.from_ext_fields(cmd.ext_fields, v2=v2)

    # ----------------------------------------------------------------- encode

    @classmethod
    def _conversions(
        cls, v2: bool
    ) -> tuple[Callable[..., dict[str, str]], Callable[..., dict[str, str]], Callable[[Mapping[str, str]], Any]]:
        key = "_rmqwire_v2" if v2 else "_rmqwire_v1"
        made = cls.__dict__.get(key)
        if made is None:
            if not (cls.WIRE.v2 if v2 else cls.WIRE.v1):
                raise TypeError(f"{cls.__name__} has no V2 form")
            made = _generate(cls, v2)
            setattr(cls, key, made)
        return made

    @classmethod
    def ext_fields_builder(cls, v2: bool = False) -> Callable[..., dict[str, str]]:
        """A function from the header's values, positionally in wire-table
        order, to its ``extFields`` (V2 letters when ``v2``), equal to
        ``cls(...).to_ext_fields()`` without making the header: for hot
        paths that know every value.  Raises as ``to_ext_fields`` does."""
        return cls._conversions(v2)[0]

    def _ext_fields(self, v2: bool) -> dict[str, str]:
        return type(self)._conversions(v2)[1](self)

    def _ext_fields_slow(self, v2: bool) -> dict[str, str]:
        pairs = self.WIRE.v2 if v2 else self.WIRE.v1
        if not pairs:
            raise TypeError(f"{type(self).__name__} has no V2 form")
        header = type(self).__name__
        out: dict[str, str] = {}
        for key, row in pairs:
            value = getattr(self, row.attr)
            if value is not None:
                out[key] = row.encode(value, header)
        return out

    def to_ext_fields(self) -> dict[str, str]:
        """The header as ``extFields``: Java names, declaration order, ``None``
        omitted.  Raises :class:`~codec.errors.EncodeError` for values of the
        wrong type or out of range."""
        return self._ext_fields(False)

    def request_code(self) -> int:
        """The code of the request this header travels with."""
        if self.REQUEST_CODE is None:
            raise TypeError(f"{type(self).__name__} is not a request header")
        return int(self.REQUEST_CODE)

    def to_request(
        self,
        body: bytes = b"",
        *,
        oneway: bool = False,
        serialize_type: SerializeType = SerializeType.JSON,
    ) -> RemotingCommand:
        """The whole request: :meth:`request_code`, this header, ``body``.
        The opaque is left 0 for the session to assign."""
        return RemotingCommand.request(
            self.request_code(), self.to_ext_fields(), body, oneway=oneway, serialize_type=serialize_type
        )
