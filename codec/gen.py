"""The one code generator: a schema of :mod:`codec.constructs` nodes becomes
a plain parse function and a plain build function.

Every wire schema of the codec (the frame, the stored-message record, the
batch record) goes through here, for every use: bound to a value type
(:func:`codec.codecs.compile_bound`: ``RemotingCommand``, ``MessageExt``),
on nested dicts (:func:`codec.codecs.compile_buffer`, and construct's own
``.compile()`` through :class:`~codec.constructs.Sized` /
:class:`~codec.constructs.Record`).  :mod:`codec.codecs` runs what this
module emits; :mod:`codec.emission` holds its working state.

Theory of operation.  Parse walks the schema in wire order with a work list
(a continuation):

* fixed-size fields, ``Sized`` length prefixes and inline length heads queue
  up and are read by one ``struct.Struct`` with one bounds check; each
  ``Sized`` then checks that its range fits its parent and holds the fixed
  fields read with its prefix;
* a ``Switch`` is an if/elif on a local variable (or an expression of
  locals, ``this.sys_flag & 0x10``), and the rest of the schema is emitted
  again inside each branch, so each path through a record is straight-line
  code;
* leaves are one call each, or their own source in place (properties);
  ``GreedyBytes``, ``NullableString``, ``Utf8Text`` inline;
* switches on bits of one field are fused into one branch, and a range
  that is only sliced is checked by the next read's bounds check.

Build walks the same way but collects *pieces* (fixed fields, length
prefixes to fill in later, byte strings); at the end of each path every
``Sized`` length is a sum of known sizes, the fixed pieces between two byte
strings become one ``pack`` and the result is one concatenation.

The generated code keeps every check but none of the error reporting: a
merged check that fails raises ``Bail``, and the entry point then runs the
*interpreted* schema on the same input.  The interpreted schema raises the
error class each node declares (or, for input the fast code merely declines,
returns the value the slow way).  Leaves raise their own declared errors
directly, as they do interpreted.  Each node type's emission is one
``_parse_<kind>`` / ``_build_<kind>`` pair of :class:`Generator`, picked by
the one dispatch over node types, :func:`codec.emission.kind`.
"""

from __future__ import annotations

import itertools
import re
import struct
from collections.abc import Callable, Sequence
from typing import Any

from construct import Construct, Default, Struct, Switch

from .constructs import _KEY_LENGTH_TEXT, _VALUE_LENGTH_TEXT, EnumField, HostPort, Leaf, NullableString, Records
from .constructs import Reject, Sized, Utf8Text, _build_string_map_exact, _EnumTable, v4_text_known, v4_text_new
from .emission import THIS_FIELD as _THIS_FIELD
from .emission import Bail, BuildState, ParseState, Piece, Read, Task
from .emission import fixed as _fixed
from .emission import key as _key
from .emission import key_fields as _key_fields
from .emission import kind as _kind
from .emission import node as _field
from .emission import guaranteed as _guaranteed
from .emission import mask_key as _mask_key
from .emission import starts_with_read as _starts_with_read

__all__ = ["Generator"]

_WORD = re.compile(r"\b[A-Za-z_]\w*\b")


class Generator:
    """Emits the parse and build bodies of one schema.

    ``fields`` (bound mode) names the values passed to ``FACTORY`` and read
    as attributes; None (dict mode) returns and takes nested dicts keyed by
    the schema's names.
    """

    def __init__(self, schema: Construct, fields: Sequence[str] | None, factory: Any = None) -> None:
        self.schema = schema
        self.fields = tuple(fields) if fields is not None else None
        #: (class, slot names, defaults) of a factory made by _fast_constructor:
        #: the value is built in place, as that constructor would
        self.inline: tuple[type, list[str], dict[str, Any]] | None = getattr(factory, "inline", None)
        self.ids = itertools.count(1)
        self.consts: dict[tuple[str, int], str] = {}
        self.namespace: dict[str, Any] = {
            "struct": struct, "Bail": Bail, "KEY_LENGTH_TEXT": _KEY_LENGTH_TEXT,
            "VALUE_LENGTH_TEXT": _VALUE_LENGTH_TEXT, "BUILD_STRING_MAP_EXACT": _build_string_map_exact,
        }
        if self.inline is not None:
            cls, names, _ = self.inline
            self.namespace.update({f"SET_{n}": getattr(cls, n).__set__ for n in names}, NEW=object.__new__, CLS=cls)
        self.lines: list[str] = []
        self.paths: dict[str, tuple[str, ...]] = {}
        self.switch_keys: set[str] = set()
        self.defaults: dict[str, Any] = {}  # dict mode: values a build may leave out
        self.list_root = False
        self._collect(schema, None, ())

    # -- helpers

    def _collect(self, sc: Construct, name: str | None, path: tuple[str, ...]) -> None:
        """Every named value and where it sits; the fields switches read."""
        sc = _field(sc)
        kind = _kind(sc)
        if kind == "record":
            for sub in sc.subcons:
                self._collect(sub, sub.name, path + (sub.name,) if sub.name else path)
            return
        if kind == "sized":
            if sc.length_name:
                self._place(sc.length_name, path + (sc.length_name,))
            self._collect(sc.subcon, name, path)
            return
        if kind == "records":  # the values are the items': the list itself is the value here
            self.list_root = sc is _field(self.schema)
            if not self.list_root:
                raise NotImplementedError("Records must be the root of a schema")
            self._collect(sc.subcon, None, ())
            return
        if kind == "switch":
            self.switch_keys.update(_key_fields(sc.keyfunc))
            for case in [*sc.cases.values(), sc.default]:
                self._collect(case, name, path)
            return
        if kind == "leaf" and sc.fields:
            for f in sc.fields:
                self._place(f, path + (f,))
            return
        if kind != "reject" and name is not None:
            self._place(name, path)
            if isinstance(sc, Default) and not callable(sc.value):
                self.defaults[name] = sc.value

    def _place(self, name: str, path: tuple[str, ...]) -> None:
        if self.paths.setdefault(name, path) != path:
            raise NotImplementedError(f"field {name!r} sits at two places in the schema")

    def _name(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids)}"

    def _const(self, prefix: str, value: Any) -> str:
        key = (prefix, id(value))
        if key not in self.consts:  # one name per object, however many paths use it
            self.consts[key] = self._name(prefix)
            self.namespace[self.consts[key]] = value
        return self.consts[key]

    def _struct(self, fmt: str, method: str) -> str:
        """A global bound to one method of a precompiled ``struct.Struct``
        (a bound method: one lookup less per call)."""
        key = f"_{method}_{fmt}"
        if key not in self.namespace:
            self.namespace[key] = getattr(struct.Struct(">" + fmt), method)
        return key

    def _emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def _var(self, name: str | None) -> str:
        return "_" if name is None else f"v_{name}"

    def _keyexpr(self, sc: Switch, local: Callable[[str], str]) -> str:
        return _THIS_FIELD.sub(lambda m: local(m.group(1)), repr(sc.keyfunc))

    # -- parse

    def parse_source(self, whole: bool = False) -> str:
        """The parse body; ``whole``: the data must end where the schema does."""
        self.lines = []
        self.whole = whole
        self._parse([("parse", self.schema, None, ())], ParseState(), 2)
        return "\n".join(self.lines)

    def _settle(self, st: ParseState, indent: int) -> None:
        """Make the deferred checks now (before anything but slicing)."""
        if st.deferred:
            self._emit(indent, f"if {' or '.join(st.deferred)}: raise Bail")
            st.deferred = []

    def _queue(self, st: ParseState, read: Read) -> None:
        if not st.pending:
            st.group_end = st.ends[-1]
        st.pending.append(read)

    def _flush(self, st: ParseState, indent: int) -> None:
        """Read every pending fixed field with one unpack_from."""
        if not st.pending:
            return
        fmt = "".join(r.fmt for r in st.pending)
        size = struct.calcsize(">" + fmt)
        targets = [t for r in st.pending for t in r.targets]
        at = st.at()
        safe = st.safe is not None and st.safe[:2] == (st.group_end, st.base) and st.off + size <= st.safe[2]
        checks = [*st.deferred] + ([] if safe else [f"{st.base} + {st.off + size} > {st.group_end}"])
        st.deferred = []
        if checks:
            self._emit(indent, f"if {' or '.join(checks)}: raise Bail")
        if fmt in ("b", "B"):  # one byte: an index is cheaper than a struct call
            byte = f"data[{at}]"
            self._emit(indent, f"{targets[0]} = {byte}" + (f" - 256 if {byte} > 127 else {byte}" if fmt == "b" else ""))
        else:
            self._emit(indent, f"{', '.join(targets)}, = {self._struct(fmt, 'unpack_from')}(data, {at})")
        offset = 0
        for r in st.pending:
            offset += struct.calcsize(">" + r.fmt)
            for line in r.post:
                self._emit(indent, line)
            if r.raw is not None:
                st.raw[r.raw[0]] = r.raw[1]
            if r.sized:
                # bytes the length must cover: read already, or read first on every path
                inside = max(size - offset, r.minimum) + r.inclusive
                var = r.var or r.targets[0]
                start = st.off + offset - r.inclusive
                self._emit(indent, f"{r.sized} = {st.base} + {start} + {var}" if start else f"{r.sized} = {st.base} + {var}")
                if inside > size - offset + r.inclusive:
                    st.safe = (r.sized, st.base, start + inside)
                check = [] if r.defer else [f"{r.sized} {'!=' if r.exact else '>'} {r.parent_end}"]
                if inside or r.signed:
                    check.insert(0, f"{var} < {inside}")
                if r.over is not None:
                    check.insert(0, f"{var} > {r.over}")
                if r.defer:
                    st.deferred += check
                elif check:
                    self._emit(indent, f"if {' or '.join(check)}: raise Bail")
        st.off += size
        st.pending = []

    def _parse(self, tasks: list[Task], st: ParseState, indent: int) -> None:
        while tasks:
            task, tasks = tasks[0], tasks[1:]
            if task[0] == "item":  # one item of Records is complete
                self._flush(st, indent)
                self._settle(st, indent)
                self._sync(st, indent)
                self._emit(indent, f"{task[1]}({self._value_of(st, indent)})")
                return
            if task[0] == "end":  # a Sized range is over
                end = st.ends.pop()
                self._flush(st, indent)  # deferred checks wait: a read follows (see _parse_sized)
                if st.at() != end:
                    self._emit(indent, f"if {st.at()} != {end}: raise Bail")
                st.move(st.same_end.get(end, end))  # the same position, by the name known to be final
                continue
            _, sc, name, path = task
            sc = _field(sc)
            more = getattr(self, f"_parse_{_kind(sc)}")(sc, name, path, st, indent, tasks)
            if more is None:  # the node emitted every path to the end itself
                return
            tasks = more
        self._flush(st, indent)
        self._finish_parse(st, indent)

    def _finish_parse(self, st: ParseState, indent: int) -> None:
        self._settle(st, indent)
        value = "items_" if self.list_root else self._value_of(st, indent)
        if self.whole:
            if st.at() != "end":
                self._emit(indent, f"if {st.at()} != end: raise Bail")
            self._emit(indent, f"return {value}")
        else:
            self._emit(indent, f"return {value}, {st.at()}")

    def _sync(self, st: ParseState, indent: int) -> None:
        """Make ``pos`` the position (for code that reads it)."""
        if st.at() != "pos":
            self._emit(indent, f"pos = {st.at()}")
            st.move("pos")

    def _value_of(self, st: ParseState, indent: int) -> str:
        """Emit what makes the value of the fields read on this path; its expression."""
        for var, table in st.raw.items():
            self._emit(indent, f"{var} = {table}[{var}]")
        if self.fields is not None and self.inline is not None:
            cls, names, defaults = self.inline
            self._emit(indent, "obj = NEW(CLS)")
            for n in names:
                if n in defaults:
                    self._emit(indent, f"SET_{n}(obj, {self._const('default', defaults[n])})")
                else:
                    self._emit(indent, f"SET_{n}(obj, {self._var(n)})")
            value = "obj"
        elif self.fields is not None:
            value = f"FACTORY({', '.join(self._var(f) for f in self.fields)})"
        else:
            value = self._render({n: self._var(n) for n in st.bound}, ())
        return value

    def _render(self, values: dict[str, str], scope: tuple[str, ...]) -> str:
        """A nested dict display of the bound values, by their paths."""
        items: dict[str, Any] = {}
        for name, var in values.items():
            path = self.paths[name][len(scope):]
            node = items
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = var

        def show(node: dict[str, Any] | str) -> str:
            if isinstance(node, str):
                return node
            return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in node.items()) + "}"

        return show(items)

    def _bind(self, st: ParseState, name: str | None) -> str:
        if name is not None:
            st.bound[name] = self._var(name)
        return self._var(name)

    def _parse_fixed(self, sc: Any, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        fmt, signed = _fixed(sc)  # type: ignore[misc]
        var = self._bind(st, name)
        read = Read(fmt, [var], signed=signed)
        if fmt == "BH":
            read.targets = [f"{var}_hi", f"{var}_lo"]
            read.post.append(f"{var} = {var}_hi << 16 | {var}_lo")
        if isinstance(sc, EnumField):
            table = self._const("table", _EnumTable(sc.enum))
            if name in self.switch_keys:
                read.raw = (var, table)  # each case of the switch knows its member
            else:
                read.post.append(f"{var} = {table}[{var}]")
        self._queue(st, read)
        return tasks

    def _parse_host(self, sc: HostPort, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        var = self._bind(st, name)
        address, port = self._name("a"), self._name("p")
        if sc.v6:
            line = f"{var} = {self._const('host_text', sc.text)}({address}, {port})"
        else:
            known, new = self._const("host_known", v4_text_known), self._const("host_new", v4_text_new)
            line = f"{var} = {known}(({address}, {port})) or {new}({address}, {port})"
        self._queue(st, Read(f"{sc.address_size}si", [address, port], [line]))
        return tasks

    def _parse_sized(self, sc: Sized, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        lenfmt = _fixed(sc.lengthfield)
        if lenfmt is None:
            raise NotImplementedError(f"unsupported length field {sc.lengthfield!r}")
        n, e = self._name("n"), self._name("e")
        if sc.length_name:
            n = self._bind(st, sc.length_name)
        read = Read(lenfmt[0], [n], sized=e, parent_end=st.ends[-1], signed=lenfmt[1], inclusive=sc.inclusive)
        if lenfmt[0] == "b":  # read unsigned: a negative length is one over 127, and bails the same
            read.fmt, read.signed, read.over = "B", False, 127
        if lenfmt[0] == "BH":
            read.targets, read.var = [f"{n}_hi", f"{n}_lo"], n
            read.post.append(f"{n} = {n}_hi << 16 | {n}_lo")
        read.minimum = _guaranteed(sc.subcon)
        if tasks and tasks[0][0] == "end":  # the last thing in its parent's range
            read.exact = True
            st.same_end[e] = st.ends[-1]
        elif (
            _kind(_field(sc.subcon)) in ("text", "greedy")
            and tasks
            and tasks[0][0] == "parse"
            and _starts_with_read(tasks[0][1])
        ):
            # only sliced, then the next field is read from its end with the
            # parent's bounds check, which fails if this range overran it
            read.defer = True
        self._queue(st, read)
        st.ends.append(e)
        return [("parse", sc.subcon, name, path), ("end",), *tasks]

    def _parse_record(self, sc: Struct, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        return [("parse", sub, sub.name, path + (sub.name,) if sub.name else path) for sub in sc.subcons] + tasks

    def _parse_switch(self, sc: Switch, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> None:
        names = _key_fields(sc.keyfunc)
        pending = {t for r in st.pending for t in [*r.targets, r.var]}
        if any(st.bound.get(n) in pending for n in names):
            self._flush(st, indent)  # else the reads so far carry on into every case
        for key_name in names:
            if key_name not in st.bound:
                raise NotImplementedError(f"switch key {sc.keyfunc!r} is not read before the switch")
        if self._fuse(sc, name, path, st, indent, tasks):
            return None
        plain = repr(sc.keyfunc) == f"this[{names[0]!r}]"
        key = st.bound[names[0]] if plain else self._name("k") if len(sc.cases) > 1 else ""
        table = st.raw.pop(key, None) if plain else None
        if not plain:
            for key_name in names:  # an expression sees converted values
                var = st.bound[key_name]
                if var in st.raw:
                    self._emit(indent, f"{var} = {st.raw.pop(var)}[{var}]")
            expression = self._keyexpr(sc, lambda f: st.bound[f])
            if key:
                self._emit(indent, f"{key} = {expression}")
            else:  # one case: test the expression itself
                key = expression
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
        return None

    def _parse_records(self, sc: Records, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        self._flush(st, indent)
        self._settle(st, indent)
        self._sync(st, indent)
        end = st.ends[-1]
        self._emit(indent, "items_ = []")
        self._emit(indent, "append_ = items_.append")
        self._emit(indent, f"while pos < {end}:")
        loop = len(self.lines)
        self._parse([("parse", sc.subcon, None, ()), ("item", "append_")], ParseState(ends=[end]), indent + 1)
        # the loop's globals as locals, read once (a hand-written loop does that too)
        used = sorted({w for line in self.lines[loop:] for w in _WORD.findall(line)} & self.namespace.keys() - {"Bail"})
        if used:
            rename = re.compile(r"\b(" + "|".join(map(re.escape, used)) + r")\b")
            self.lines[loop:] = [rename.sub(r"l_\1", line) for line in self.lines[loop:]]
            self.lines.insert(loop - 1, "    " * indent + f"{', '.join('l_' + u for u in used)} = {', '.join(used)}")
        st.move(end)
        return tasks

    def _fuse(self, sc: Switch, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> bool:
        """Switches on bits of one field (``this.sys_flag & 0x10`` for the born
        host, ``& 0x20`` the store host, ``& 0x1`` the body) ahead in this
        record become one branch on all the bits: the usual case costs one
        test, and each path still gets the case each switch would choose."""
        first = _mask_key(sc)
        if first is None or first[0] not in st.bound:
            return False
        group = {-1: (sc, first[1])}
        for i, task in enumerate(tasks):
            if task[0] == "parse" and _kind(_field(task[1])) == "switch":
                found = _mask_key(_field(task[1]))
                if found is not None and found[0] == first[0] and not found[1] & sum(m for _, m in group.values()):
                    group[i] = (_field(task[1]), found[1])
        if len(group) < 2:
            return False
        mask = sum(m for _, m in group.values())
        bits = [1 << b for b in range(mask.bit_length()) if mask >> b & 1]
        key = self._name("k")
        self._emit(indent, f"{key} = {st.bound[first[0]]} & {mask}")
        for n in range(1 << len(bits)):
            combo = sum(bit for j, bit in enumerate(bits) if n >> j & 1)
            chosen = {i: s.cases.get(combo & m, s.default) for i, (s, m) in group.items()}
            rest = [("parse", chosen[i], *task[2:]) if i in chosen else task for i, task in enumerate(tasks)]
            self._emit(indent, f"{'if' if n == 0 else 'elif'} {key} == {combo}:")
            self._parse([("parse", chosen[-1], name, path), *rest], st.copy(), indent + 1)
        return True

    def _parse_reject(self, sc: Reject, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> None:
        self._emit(indent, "raise Bail")
        return None

    def _parse_greedy(self, sc: Any, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        self._flush(st, indent)
        end = st.ends[-1]
        self._emit(indent, f"{self._bind(st, name)} = data[{st.at()}:{end}]")
        st.move(end)
        return tasks

    def _parse_text(self, sc: Utf8Text, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        self._flush(st, indent)
        end = st.ends[-1]
        self._emit(indent, f"{self._bind(st, name)} = data[{st.at()}:{end}].decode()")
        st.move(end)
        return tasks

    def _parse_nullable(self, sc: NullableString, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        n, var = self._name("n"), self._bind(st, name)
        end = st.ends[-1]
        self._queue(st, Read("i", [n]))
        self._flush(st, indent)
        at = st.at()
        self._emit(indent, f"if {n}:")
        self._emit(indent + 1, f"pos = {at} + {n}")
        self._emit(indent + 1, f"if {n} < 0 or pos > {end}: raise Bail")
        self._emit(indent + 1, f"{var} = data[pos - {n}:pos].decode()")
        self._emit(indent, "else:")
        self._emit(indent + 1, f"{var} = None")
        if at != "pos":
            self._emit(indent + 1, f"pos = {at}")
        st.move("pos")
        return tasks

    def _needed(self, st: ParseState, name: str) -> str:
        var = st.bound.get(name)
        if var is None:
            raise NotImplementedError(f"a leaf needs {name!r}, which is not read before it")
        if var in st.raw:  # the leaf sees the converted value
            return f"{st.raw[var]}[{var}]"
        return var

    def _parse_leaf(self, sc: Leaf, name: str | None, path: Any, st: ParseState, indent: int, tasks: list[Task]) -> list[Task]:
        self._flush(st, indent)
        self._settle(st, indent)
        end = st.ends[-1]
        inline = sc.inline_parse(self._bind(st, name), st.at(), end) if not sc.fields and name is not None else None
        if inline is not None:  # the leaf's own code, in place of a call
            for line in inline:
                self._emit(indent, line)
            st.move(end)
            return tasks
        parse = self._const("leaf_parse", sc.fast_parse)
        args = f"data, {st.at()}, {end}" + "".join(f", {self._needed(st, n)}" for n in sc.needs)
        if sc.fields:  # a leaf of several named values, and always to the end of its range
            names = [self._bind(st, f) for f in sc.fields]
            self._emit(indent, f"{', '.join(names)}, = {parse}({args})")
            st.move(end)
        elif sc.to_end:
            self._emit(indent, f"{self._bind(st, name)} = {parse}({args})[0]")
            st.move(end)
        else:
            self._emit(indent, f"{self._bind(st, name)}, pos = {parse}({args})")
            st.move("pos")
        return tasks

    # -- build

    def build_source(self) -> str:
        self.lines = []
        self.locals: set[str] = set()
        for key in sorted(self.switch_keys):  # read once, up front: they are also packed
            self._emit(2, f"v_{key} = {self._access(key)}")
            self.locals.add(key)
        self._build([("build", self.schema, None, ())], BuildState(), 2)
        return "\n".join(self.lines)

    def _access(self, name: str) -> str:
        if self.fields is not None:
            return f"obj.{name}"
        *scopes, last = self.paths[name]
        node = "obj" + "".join(f"[{k!r}]" for k in scopes)
        return f"{node}.get({last!r}, {self.defaults[name]!r})" if name in self.defaults else f"{node}[{last!r}]"

    def _value(self, name: str | None) -> str:
        if name is None:
            raise NotImplementedError("the generator cannot build an unnamed value")
        return f"v_{name}" if name in self.locals else self._access(name)

    def _build(self, tasks: list[Task], st: BuildState, indent: int) -> None:
        while tasks:
            task, tasks = tasks[0], tasks[1:]
            if task[0] == "end":
                st.spans[task[1]][1] = len(st.pieces)
                continue
            _, sc, name, path = task
            sc = _field(sc)
            more = getattr(self, f"_build_{_kind(sc)}")(sc, name, path, st, indent, tasks)
            if more is None:
                return
            tasks = more
        self._finish_build(st, indent)

    def _build_fixed(self, sc: Any, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        fmt, _ = _fixed(sc)  # type: ignore[misc]
        st.pieces.append(Piece(fmt, self._value(name)))
        return tasks

    def _build_host(self, sc: HostPort, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        var = self._name("b")
        self._emit(indent, f"{var} = {self._const('host_bytes', sc.build_bytes)}({self._value(name)}, None)")
        st.pieces.append(Piece("", var))
        return tasks

    def _build_sized(self, sc: Sized, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        lenfmt = _fixed(sc.lengthfield)
        if lenfmt is None:
            raise NotImplementedError(f"unsupported length field {sc.lengthfield!r}")
        k = next(self.ids)
        st.pieces.append(Piece(lenfmt[0], f"n_{k}", sized=k))
        st.spans[k] = [len(st.pieces), -1, sc.inclusive]
        return [("build", sc.subcon, name, path), ("end", k), *tasks]

    def _build_record(self, sc: Struct, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        return [("build", sub, sub.name, path) for sub in sc.subcons] + tasks

    def _build_switch(self, sc: Switch, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> None:
        key = self._keyexpr(sc, lambda f: f"v_{f}")
        for i, (value, case) in enumerate(sc.cases.items()):
            self._emit(indent, f"{'if' if i == 0 else 'elif'} {key} == {_key(value)}:")
            branch = st.copy()
            if key.startswith("v_") and key[2:] in self.switch_keys:  # packed as the literal it equals here
                branch.pieces = [Piece(p.fmt, _key(value) if p.expr == key and p.fmt else p.expr, p.sized) for p in branch.pieces]
            self._build([("build", case, name, path), *tasks], branch, indent + 1)
        self._emit(indent, "else:")
        self._build([("build", sc.default, name, path), *tasks], st.copy(), indent + 1)
        return None

    def _build_records(self, sc: Records, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        var = self._name("b")
        from .codecs import compile_buffer  # which imports this module

        item = self._const("item_build", compile_buffer(sc.subcon).build_bytes)
        self._emit(indent, f"{var} = b''.join(map({item}, obj))")
        st.pieces.append(Piece("", var))
        return tasks

    def _build_reject(self, sc: Reject, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> None:
        self._emit(indent, "raise Bail")
        return None

    def _build_greedy(self, sc: Any, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        # no type check: bytes + any bytes-like is bytes, anything else raises TypeError
        var = self._name("b")
        self._emit(indent, f"{var} = {self._value(name)}")
        st.pieces.append(Piece("", var))
        return tasks

    def _build_text(self, sc: Utf8Text, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        var = self._name("b")
        self._emit(indent, f"{var} = {self._value(name)}.encode()")
        st.pieces.append(Piece("", var))
        return tasks

    def _build_nullable(self, sc: NullableString, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> None:
        # two paths: empty (a zero length and nothing else) or not
        var = self._name("s")
        self._emit(indent, f"{var} = {self._value(name)}")
        self._emit(indent, f"if not {var}:")
        empty = st.copy()
        empty.pieces.append(Piece("i", "0"))
        self._build(list(tasks), empty, indent + 1)
        self._emit(indent, "else:")
        raw = self._name("b")
        self._emit(indent + 1, f"{raw} = {var}.encode()")
        st.pieces += [Piece("i", f"len({raw})"), Piece("", raw)]
        self._build(tasks, st, indent + 1)
        return None

    def _build_leaf(self, sc: Leaf, name: str | None, path: Any, st: BuildState, indent: int, tasks: list[Task]) -> list[Task]:
        var = self._name("b")
        inline = None if sc.fields else sc.inline_build(var, self._value(name))
        if inline is not None:
            for line in inline:
                self._emit(indent, line)
            st.pieces.append(Piece("", var))
            return tasks
        build = self._const("leaf_build", sc.fast_build)
        args = [self._value(f) for f in sc.fields] if sc.fields else [self._value(name)]
        self._emit(indent, f"{var} = {build}({', '.join(args)})")
        st.pieces.append(Piece("", var))
        return tasks

    def _finish_build(self, st: BuildState, indent: int) -> None:
        """Compute the lengths, innermost first, then pack and join."""
        pieces = st.pieces
        inline: dict[str, str] = {}  # a length used once, by its pack: no variable
        for k, (first, last, inclusive) in sorted(st.spans.items(), key=lambda kv: -kv[1][0]):
            size, terms, i = inclusive, [], first
            while i < last:
                piece = pieces[i]
                if piece.fmt:
                    size += struct.calcsize(">" + piece.fmt)
                    if piece.sized is not None:  # an inner Sized: its length is known
                        terms.append(f"n_{piece.sized}")
                        size -= st.spans[piece.sized][2]
                        i = st.spans[piece.sized][1]
                        continue
                else:
                    terms.append(f"len({piece.expr})")
                i += 1
            value = " + ".join([str(size)] * bool(size) + terms) or "0"
            outermost = k == min(st.spans)
            if outermost and next(p.fmt for p in pieces if p.sized == k) != "BH":
                inline[f"n_{k}"] = f"({value})" if terms else value
            else:
                self._emit(indent, f"n_{k} = {value}")
        parts: list[str] = []
        run: list[Piece] = []
        for piece in [*pieces, Piece("", "")]:
            if piece.fmt:
                run.append(piece)
                continue
            if run:
                fmt = "".join(p.fmt for p in run)
                args: list[str] = []
                for p in run:
                    expr = inline.get(p.expr, p.expr)
                    args += [expr] if p.fmt != "BH" else [f"{expr} >> 16", f"{expr} & 0xFFFF"]
                parts.append(f"{self._struct(fmt, 'pack')}({', '.join(args)})")
                run = []
            if piece.expr:
                parts.append(piece.expr)
        self._emit(indent, f"return {' + '.join(parts) or repr(b'')}")
