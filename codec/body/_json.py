"""JSON plumbing shared by the body types: fastjson-style writing and
typed, fastjson-lenient reading.

Java's ``RemotingSerializable`` encodes bodies with fastjson's defaults: keys
sorted, nulls omitted, no whitespace, non-ASCII as raw UTF-8, and non-String
map keys *unquoted* (``{0:"addr"}``).  :func:`dumps` writes exactly that.
Reading goes through :func:`loads_object` and the ``get_*`` helpers, which
turn every failure (not UTF-8, not JSON, nested too deeply, a value of the
wrong type, a required key missing) into :class:`~codec.errors.MalformedBodyError`
naming the offending field.  Like fastjson they ignore unknown keys, treat an
explicit ``null`` as absent, and accept numbers written as decimal strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from collections.abc import Sequence
from typing import Any, TypeVar

from ..errors import EncodeError, MalformedBodyError

__all__ = [
    "dumps",
    "loads_object",
    "to_text",
    "get_str",
    "get_opt_str",
    "as_int",
    "get_int",
    "get_opt_int",
    "get_bool",
    "get_opt_bool",
    "get_list",
    "get_object",
    "expect_object",
    "str_item",
    "show",
    "check_str",
    "check_int",
    "check_bool",
    "check_items",
    "int32_item",
    "INT32",
    "INT64",
]

T = TypeVar("T")

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

_string = json.JSONEncoder(ensure_ascii=False).encode
_DECIMAL = re.compile(r"-?[0-9]{1,20}")


def _emit(value: object, bare_int_keys: bool, out: list[str]) -> None:
    if value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Mapping):
        items = [(k, v) for k, v in value.items() if v is not None]
        if all(isinstance(k, int) and not isinstance(k, bool) for k, _ in items):
            items.sort(key=lambda kv: int(kv[0]))
        elif all(isinstance(k, str) for k, _ in items):
            items.sort(key=lambda kv: str(kv[0]))
        else:
            raise EncodeError(f"map keys must be all str or all int, not {[k for k, _ in items]!r}")
        out.append("{")
        for i, (key, item) in enumerate(items):
            if i:
                out.append(",")
            if isinstance(key, str):
                out.append(_string(key))
            elif bare_int_keys:
                out.append(str(int(key)))
            else:
                out.append(f'"{int(key)}"')
            out.append(":")
            _emit(item, bare_int_keys, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _emit(item, bare_int_keys, out)
        out.append("]")
    else:
        raise EncodeError(f"cannot write {type(value).__name__} {value!r} as JSON")


def dumps(value: object, *, bare_int_keys: bool = False) -> bytes:
    """fastjson's default output for ``value`` (dicts, lists/tuples, str, int,
    bool), UTF-8 encoded: compact, map keys sorted (numerically for int keys),
    ``None`` entries of maps omitted.  Int map keys are written bare, as
    fastjson does, when ``bare_int_keys`` is true, else quoted."""
    out: list[str] = []
    _emit(value, bare_int_keys, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"text is not encodable as UTF-8 ({exc.reason})") from None


def to_text(data: object, what: str) -> str:
    """``data`` (bytes-like, or already text) as text, :class:`MalformedBodyError` if not UTF-8."""
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBodyError(f"{what}: invalid UTF-8 ({exc.reason})") from None
    raise TypeError(f"{what} must be bytes, not {type(data).__name__}")


def loads_object(text: str, what: str, *, fallback: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Parse ``text`` as one JSON object.  If it is not JSON and ``fallback``
    is given, parse ``fallback(text)`` instead (the route body's bare keys)."""
    try:
        try:
            value = json.loads(text)
        except ValueError as first:
            if fallback is None:
                raise
            try:
                value = json.loads(fallback(text))
            except ValueError:
                raise first from None
    except ValueError as exc:  # json.JSONDecodeError, and int() digit limits
        raise MalformedBodyError(f"{what}: not JSON ({exc})") from None
    except RecursionError:
        raise MalformedBodyError(f"{what}: nested too deeply") from None
    if type(value) is not dict:
        raise MalformedBodyError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _missing(key: str, what: str) -> MalformedBodyError:
    return MalformedBodyError(f"{what}: {show(key)} is missing")


def show(value: object) -> str:
    """A short description of a JSON value for an error message: containers
    by kind only, since their repr can be huge or nested past the recursion limit."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**20:
        return "a huge integer"
    return repr(value)


def _wrong(key: str, what: str, expected: str, value: object) -> MalformedBodyError:
    return MalformedBodyError(f"{what}: {show(key)} must be {expected}, not {show(value)}")


def get_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    """A required string."""
    value = obj.get(key)
    if value is None:
        raise _missing(key, what)
    if type(value) is not str:
        raise _wrong(key, what, "a string", value)
    return value


def get_opt_str(obj: Mapping[str, Any], key: str, what: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise _wrong(key, what, "a string", value)


def as_int(value: object, key: str, what: str, bounds: tuple[int, int]) -> int:
    if type(value) is int:
        number = value
    elif type(value) is str and _DECIMAL.fullmatch(value):  # fastjson casts numeric strings
        number = int(value)
    else:
        raise _wrong(key, what, "an integer", value)
    low, high = bounds
    if not low <= number <= high:
        raise _wrong(key, what, f"an integer in {low}..{high}", value)
    return number


def get_int(obj: Mapping[str, Any], key: str, what: str, bounds: tuple[int, int] = INT32, default: int | None = None) -> int:
    """An integer within ``bounds``; required unless ``default`` is given."""
    value = obj.get(key)
    if value is None:
        if default is None:
            raise _missing(key, what)
        return default
    return as_int(value, key, what, bounds)


def get_opt_int(obj: Mapping[str, Any], key: str, what: str, bounds: tuple[int, int] = INT32) -> int | None:
    value = obj.get(key)
    return None if value is None else as_int(value, key, what, bounds)


def get_opt_bool(obj: Mapping[str, Any], key: str, what: str) -> bool | None:
    value = obj.get(key)
    if value is None or type(value) is bool:
        return value
    # fastjson's castToBoolean: "true"/"false" and 1/0 as well.
    if type(value) is str and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if type(value) is int and value in (0, 1):
        return value == 1
    raise _wrong(key, what, "a boolean", value)


def get_bool(obj: Mapping[str, Any], key: str, what: str, default: bool = False) -> bool:
    value = get_opt_bool(obj, key, what)
    return default if value is None else value


def get_list(obj: Mapping[str, Any], key: str, what: str, item: Callable[[Any, str], T], *, required: bool = False) -> tuple[T, ...]:
    """A JSON array whose elements ``item(element, where)`` converts."""
    value = obj.get(key)
    if value is None:
        if required:
            raise _missing(key, what)
        return ()
    if type(value) is not list:
        raise _wrong(key, what, "an array", value)
    return tuple(item(element, f"{what}.{key}[{i}]") for i, element in enumerate(value))


def get_object(obj: Mapping[str, Any], key: str, what: str, *, required: bool = False) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _missing(key, what)
        return None
    if type(value) is not dict:
        raise _wrong(key, what, "an object", value)
    return value


def expect_object(value: object, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise MalformedBodyError(f"{what}: expected an object, not {type(value).__name__}")
    return value


def str_item(value: Any, where: str) -> str:
    """An array element that must be a string."""
    if type(value) is not str:
        raise MalformedBodyError(f"{where} must be a string, not {show(value)}")
    return value


def int32_item(value: Any, where: str) -> int:
    """An array element that must be a 32-bit integer."""
    if type(value) is int and INT32[0] <= value <= INT32[1]:
        return value
    raise MalformedBodyError(f"{where} must be a 32-bit integer, not {show(value)}")


# Writing: the dataclasses are not validated on construction, so to_json
# checks each value as it goes and names the field that is wrong.


def check_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise EncodeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def check_int(value: object, what: str, bounds: tuple[int, int] = INT32) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not bounds[0] <= value <= bounds[1]:
        raise EncodeError(f"{what} must be an integer in {bounds[0]}..{bounds[1]}, not {value!r:.40}")
    return int(value)


def check_bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise EncodeError(f"{what} must be a bool, not {type(value).__name__}")
    return value


def check_items(items: object, kind: type[T], what: str) -> Sequence[T]:
    """A tuple or list of ``kind`` instances (what the dataclasses declare)."""
    if not isinstance(items, (tuple, list)) or not all(isinstance(item, kind) for item in items):
        raise EncodeError(f"{what} must be a tuple of {kind.__name__}, not {items!r:.60}")
    return items
