"""The code generator's working state: the node kinds it knows, fixed
fields waiting to be read with their neighbours, and the pieces a build
joins.  See :mod:`codec.gen`."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

from construct import BytesInteger, Construct, Default, FormatField, Renamed, Struct, Switch
from construct.core import GreedyBytes

from .constructs import EnumField, HostPort, Leaf, NullableString, Records, Reject, Sized, Utf8Text

__all__ = ["starts_with_read", "guaranteed", "fully_fixed", "mask_key", "Bail", "Read", "ParseState", "Piece", "BuildState", "Task", "node", "fixed", "kind", "key", "key_fields", "THIS_FIELD"]


class Bail(Exception):
    """Inside generated code: leave this input to the interpreted schema."""


def node(sc: Construct) -> Construct:
    while isinstance(sc, Renamed):
        sc = sc.subcon
    return sc


def fixed(sc: Construct) -> tuple[str, bool] | None:
    """(struct format chars, signed) of a fixed-size integer field, else None.
    A 24-bit unsigned length reads as "BH" (struct has no 3-byte integers)."""
    if isinstance(sc, Default):  # its value when building without one
        sc = sc.subcon
    if isinstance(sc, EnumField):
        sc = sc.subcon
    if isinstance(sc, FormatField) and sc.fmtstr[0] == ">":
        return sc.fmtstr[1:], sc.fmtstr[1:].islower()
    if isinstance(sc, BytesInteger) and sc.length == 3 and not sc.signed and not sc.swapped:
        return "BH", False
    return None


def kind(sc: Construct) -> str:
    """The one dispatch over node types: which ``_emit_*`` pair handles ``sc``."""
    if fixed(sc) is not None:
        return "fixed"
    for kind, cls in (("host", HostPort), ("sized", Sized), ("records", Records), ("record", Struct), ("switch", Switch),
                      ("reject", Reject), ("nullable", NullableString), ("text", Utf8Text), ("leaf", Leaf)):
        if isinstance(sc, cls):
            return kind
    if sc is GreedyBytes:
        return "greedy"
    raise NotImplementedError(f"the generator cannot compile {sc!r}")


def key(key: Any) -> str:
    """Source text for a Switch key (enum members by their int value)."""
    return repr(int(key)) if isinstance(key, int) else repr(key)


THIS_FIELD = re.compile(r"this\['(\w+)'\]")


def key_fields(keyfunc: Any) -> list[str]:
    """The fields a Switch key expression reads (``this.a``, ``this.a & 16``)."""
    text = repr(keyfunc)
    names = THIS_FIELD.findall(text)
    if not names or "this['_']" in text or THIS_FIELD.sub("", text).count("this"):
        raise NotImplementedError(f"a switch key must be an expression of this.<field>, not {text}")
    return names


# --------------------------------------------------------------------------- emission state


@dataclass
class Read:
    """One fixed-size field waiting to be read with its neighbours."""

    fmt: str
    targets: list[str]  # the names unpack_from assigns
    post: list[str] = field(default_factory=list)  # statements after the read
    sized: str | None = None  # the end variable of the Sized this is the length of
    parent_end: str | None = None
    signed: bool = True
    inclusive: int = 0  # the length counts this many bytes before its range (itself)
    raw: tuple[str, str] | None = None  # (var, enum table) left unconverted: a switch converts it
    var: str = ""  # the value's variable, when it is not the one target
    exact: bool = False  # the range ends where its parent does: check that at once
    over: int | None = None  # a length above this bails (a signed byte read unsigned)
    minimum: int = 0  # the fixed bytes every path through the range reads first
    defer: bool = False  # the range's end is checked by the next read's bounds check


@dataclass
class ParseState:
    pending: list[Read] = field(default_factory=list)
    group_end: str = "end"  # the bound the pending reads are checked against
    ends: list[str] = field(default_factory=lambda: ["end"])
    bound: dict[str, str] = field(default_factory=dict)  # field name -> local variable
    raw: dict[str, str] = field(default_factory=dict)  # local -> enum table not applied yet
    # the position is base + off: variables are not updated until they must be
    base: str = "pos"
    off: int = 0
    # the end of a range that was checked equal to its parent's -> the parent's
    same_end: dict[str, str] = field(default_factory=dict)
    # checks of a range only sliced so far, made with the next read's bounds check
    deferred: list[str] = field(default_factory=list)
    # (end var, base, offset): reads of that range from base up to base + offset
    # are known in bounds (its length was checked to cover them)
    safe: tuple[str, str, int] | None = None

    def copy(self) -> ParseState:
        return ParseState(
            list(self.pending), self.group_end, list(self.ends), dict(self.bound), dict(self.raw),
            self.base, self.off, dict(self.same_end), list(self.deferred), self.safe,
        )

    def at(self) -> str:
        return self.base if not self.off else f"{self.base} + {self.off}"

    def move(self, base: str) -> None:
        self.base, self.off = base, 0


@dataclass
class Piece:
    """Part of a built record: a fixed field (``fmt`` + ``expr``), a length
    prefix to fill in (``sized``), or a byte string (``fmt`` empty)."""

    fmt: str
    expr: str
    sized: int | None = None


@dataclass
class BuildState:
    pieces: list[Piece] = field(default_factory=list)
    spans: dict[int, list[int]] = field(default_factory=dict)  # sized id -> [first, last) piece, inclusive bytes

    def copy(self) -> BuildState:
        return BuildState(list(self.pieces), {k: list(v) for k, v in self.spans.items()})


#: a work-list entry: ("parse" | "build", node, name, path), ("end", ...), ("item", ...)
Task = tuple[Any, ...]


def starts_with_read(sc: Construct) -> bool:
    """Whether parsing ``sc`` begins with a fixed-size read (on every path)."""
    sc = node(sc)
    what = kind(sc)
    if what in ("fixed", "sized", "host", "nullable"):
        return True
    if what == "record":
        return bool(sc.subcons) and starts_with_read(sc.subcons[0])
    if what == "switch":
        return all(kind(node(c)) == "reject" or starts_with_read(c) for c in [*sc.cases.values(), sc.default])
    return False


MASK_KEY = re.compile(r"\(this\['(\w+)'\] & (\d+)\)")


def mask_key(sc: Switch) -> tuple[str, int] | None:
    """(field, mask) of a switch keyed on ``this.<field> & <mask>``."""
    found = MASK_KEY.fullmatch(repr(sc.keyfunc))
    return (found.group(1), int(found.group(2))) if found else None


def guaranteed(sc: Construct) -> int:
    """The fixed-size bytes every path through ``sc`` reads first."""
    sc = node(sc)
    what = kind(sc)
    if what == "fixed":
        return struct.calcsize(">" + fixed(sc)[0])  # type: ignore[index]
    if what == "host":
        return int(sc.packer.size)
    if what == "sized":
        return struct.calcsize(">" + fixed(sc.lengthfield)[0]) if fixed(sc.lengthfield) else 0  # type: ignore[index]
    if what == "record":
        total = 0
        for sub in sc.subcons:
            part = guaranteed(sub)
            total += part
            if kind(node(sub)) not in ("fixed", "host") and not _fullyfixed(sub):
                break
        return total
    if what == "switch":
        sizes = [guaranteed(c) for c in [*sc.cases.values(), sc.default] if kind(node(c)) != "reject"]
        return min(sizes) if sizes else 0
    return 0


def _fullyfixed(sc: Construct) -> bool:
    """Whether every path through ``sc`` is of a fixed size, whatever the
    data's lengths say (a switch of hosts: 8 or 20 bytes)."""
    sc = node(sc)
    what = kind(sc)
    if what in ("fixed", "host"):
        return True
    if what == "switch":
        cases = [c for c in [*sc.cases.values(), sc.default] if kind(node(c)) != "reject"]
        return bool(cases) and all(_fullyfixed(c) for c in cases)
    return False
