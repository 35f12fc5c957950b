"""The JSON header (``RemotingSerializable``, fastjson) read and written.

The :class:`~codec.constructs.JsonHeader` node of the frame schema calls
:func:`_json_header_fields` and :func:`_json_header_bytes`; both are as
lenient as fastjson when reading (any key order, trailing whitespace,
missing ``remark`` / ``extFields``, numbers and booleans as extFields
values) and follow fastjson's defaults when writing (keys sorted, nulls
omitted, enums by name).  The usual header takes one parse or one dump;
everything else takes the general rules, which also raise.
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from collections.abc import Callable, Mapping
from typing import Any

from .enums import LanguageCode
from .errors import EncodeError, MalformedHeaderError

_orjson: Any = None
try:  # optional: several times faster than the stdlib, and checked to give the same results
    import orjson

    _orjson = orjson
except ImportError:  # pragma: no cover - depends on the environment
    pass

__all__ = ["JSON_FIELDS"]

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


#: The logical header fields, in the order the frame schema names them.
JSON_FIELDS = _JSON_FIELDS = ("code", "language", "version", "opaque", "flag", "remark", "ext_fields")
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
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - not CPython, or another signature
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
        except (StopIteration, ValueError, RecursionError):  # loads decides
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
        except (ValueError, TypeError, RecursionError):  # whatever orjson refuses, the stdlib decides
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
