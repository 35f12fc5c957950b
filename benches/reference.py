"""A hand-written reference codec: the same-run baseline of every benchmark.

Not shipped, not used by the package.  It is written the way a careful
person writes a fast codec for these frames by hand, with ``struct`` and the
stdlib ``json`` (never orjson: the issue asks the JSON path to beat the
stdlib baseline) and every trick we know:

* one ``struct.Struct`` for the 8-byte prelude, one for the fixed header
  part, and a single pack for prelude + fixed part + ext length when the
  remark is null (the usual request);
* the ext map built as one latin-1 string when everything in it is ASCII and
  encoded once; read by decoding the whole block once and slicing text;
* JSON headers as one ``dumps`` of a dict in fastjson's key order;
* RemotingCommand made with ``object.__new__`` and the slot descriptors,
  skipping the frozen dataclass ``__init__``.

It produces and consumes the very same :class:`codec.RemotingCommand`
values as :func:`codec.encode` / :func:`codec.decode` and checks what a
careful codec must (every length inside its range, int32 ranges, str
extFields, valid UTF-8), raising ``ValueError``; it does not reproduce the
package's error classes or the lenient corners of fastjson (numbers as ext
values, unknown language names), which only cost time on rare input.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from rmqwire.codec import LanguageCode, RemotingCommand, SerializeType

__all__ = ["encode", "decode", "decode_at", "split", "decode_messages"]

_PRELUDE = struct.Struct(">iBBH")  # total length, serialize type, 24-bit header length
_FIXED = struct.Struct(">hBhiii")  # code, language, version, opaque, flag, remark length
_PRELUDE_FIXED_EXT = struct.Struct(">iBBHhBhiiii")  # ... and ext length, for a null remark
_PRELUDE_FIXED = struct.Struct(">iBBHhBhiii")
_INT32 = struct.Struct(">i")
_U16_FROM = struct.Struct(">H").unpack_from
_U32_FROM = struct.Struct(">I").unpack_from
_I16 = struct.Struct(">h")

_JSON = SerializeType.JSON
_ROCKETMQ = SerializeType.ROCKETMQ
_LANGUAGE = {int(m): m for m in LanguageCode}
_LANGUAGE_BY_NAME = {m.name: m for m in LanguageCode}
_LANGUAGE_NAME = {id(m): m.name for m in LanguageCode}
_MIN, _MAX = -(2**31), 2**31 - 1

_loads = json.loads
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# --------------------------------------------------------------------------- value


_new = object.__new__
(_set_code, _set_language, _set_version, _set_opaque, _set_flag, _set_remark, _set_ext, _set_body, _set_type) = (
    getattr(RemotingCommand, name).__set__
    for name in ("code", "language", "version", "opaque", "flag", "remark", "ext_fields", "body", "serialize_type")
)


def _command(code: int, language: Any, version: int, opaque: int, flag: int, remark: str | None,
             ext: dict[str, str], body: bytes, serialize_type: SerializeType) -> RemotingCommand:
    cmd = _new(RemotingCommand)
    _set_code(cmd, code)
    _set_language(cmd, language)
    _set_version(cmd, version)
    _set_opaque(cmd, opaque)
    _set_flag(cmd, flag)
    _set_remark(cmd, remark)
    _set_ext(cmd, ext)
    _set_body(cmd, body)
    _set_type(cmd, serialize_type)
    return cmd


# --------------------------------------------------------------------------- ext map

_KEY_LENGTH = [_I16.pack(n).decode("latin-1") for n in range(256)]
_VALUE_LENGTH = [_INT32.pack(n).decode("latin-1") for n in range(2048)]


def _map_bytes(ext: dict[str, str]) -> bytes:
    if "".join(ext).isascii() and "".join(ext.values()).isascii():
        try:
            parts: list[str] = []
            for key, value in ext.items():
                parts += (_KEY_LENGTH[len(key)], key, _VALUE_LENGTH[len(value)], value)
            return "".join(parts).encode("latin-1")
        except IndexError:  # a key of 256+ or a value of 2048+ characters
            pass
    out = []
    for key, value in ext.items():
        kb = key.encode()
        vb = value.encode()
        out += (_I16.pack(len(kb)), kb, _INT32.pack(len(vb)), vb)
    return b"".join(out)


def _map_from(data: bytes, pos: int, end: int) -> dict[str, str]:
    block = data[pos:end]
    size = end - pos
    result: dict[str, str] = {}
    p = 0
    if block.isascii():  # no negative lengths, and UTF-8 is latin-1: decode once
        text = block.decode("latin-1")
        while p < size:
            k = p + 2
            q = k + _U16_FROM(block, p)[0]
            r = q + 4
            p = r + _U32_FROM(block, q)[0]
            result[text[k:q]] = text[r:p]
    else:
        while p < size:
            k = p + 2
            klen = _U16_FROM(block, p)[0]
            if klen > 0x7FFF:
                raise ValueError("negative key length")
            q = k + klen
            r = q + 4
            vlen = _U32_FROM(block, q)[0]
            if vlen > 0x7FFFFFFF:
                raise ValueError("negative value length")
            p = r + vlen
            result[block[k:q].decode()] = block[r:p].decode()
    if p != size:
        raise ValueError("ext map overruns its block")
    return result


# --------------------------------------------------------------------------- encode


def encode(cmd: RemotingCommand) -> bytes:
    body = cmd.body
    if cmd.serialize_type == 1:
        ext = _map_bytes(cmd.ext_fields)
        remark = cmd.remark
        if not remark:
            header_length = 21 + len(ext)
            return _PRELUDE_FIXED_EXT.pack(
                4 + header_length + len(body), 1, header_length >> 16, header_length & 0xFFFF,
                cmd.code, cmd.language, cmd.version, cmd.opaque, cmd.flag, 0, len(ext),
            ) + ext + body
        raw = remark.encode()
        header_length = 21 + len(raw) + len(ext)
        return (
            _PRELUDE_FIXED.pack(
                4 + header_length + len(body), 1, header_length >> 16, header_length & 0xFFFF,
                cmd.code, cmd.language, cmd.version, cmd.opaque, cmd.flag, len(raw),
            )
            + raw + _INT32.pack(len(ext)) + ext + body
        )
    header = _json_header(cmd)
    header_length = len(header)
    return _PRELUDE.pack(4 + header_length + len(body), 0, header_length >> 16, header_length & 0xFFFF) + header + body


def _json_header(cmd: RemotingCommand) -> bytes:
    code, flag, opaque, version, remark, ext = cmd.code, cmd.flag, cmd.opaque, cmd.version, cmd.remark, cmd.ext_fields
    if not (_MIN <= code <= _MAX and _MIN <= flag <= _MAX and _MIN <= opaque <= _MAX and _MIN <= version <= _MAX):
        raise ValueError("not an int32")
    for key, value in ext.items():  # Java's HashMap<String,String>
        if type(key) is not str or type(value) is not str:
            raise ValueError("extFields must map str to str")
    # fastjson's default features: keys sorted, nulls omitted, enums by name
    header: dict[str, Any] = {"code": code}
    if ext:
        header["extFields"] = ext
    header["flag"] = flag
    header["language"] = _LANGUAGE_NAME[id(cmd.language)]
    header["opaque"] = opaque
    if remark is not None:
        header["remark"] = remark
    header["serializeTypeCurrentRPC"] = "JSON"
    header["version"] = version
    return _dumps(header).encode()


# --------------------------------------------------------------------------- decode


def decode(frame: bytes | bytearray | memoryview) -> RemotingCommand:
    data = frame if type(frame) is bytes else bytes(frame)
    cmd, stop = decode_at(data, 0, len(data))
    if stop != len(data):
        raise ValueError("trailing bytes")
    return cmd


def decode_at(data: bytes, pos: int, end: int) -> tuple[RemotingCommand, int]:
    if pos + 8 > end:
        raise ValueError("truncated prelude")
    total, serialize_type, high, low = _PRELUDE.unpack_from(data, pos)
    stop = pos + 4 + total
    if total < 4 or stop > end:
        raise ValueError("bad total length")
    start = pos + 8
    header_end = start + (high << 16 | low)
    if header_end > stop:
        raise ValueError("bad header length")
    body = data[header_end:stop]
    if serialize_type == 1:
        if start + 21 > header_end:
            raise ValueError("truncated header")
        code, language, version, opaque, flag, remark_length = _FIXED.unpack_from(data, start)
        pos = start + 17
        if remark_length:
            if remark_length < 0 or pos + remark_length > header_end:
                raise ValueError("bad remark length")
            remark = data[pos : pos + remark_length].decode()
            pos += remark_length
        else:
            remark = None
        ext_length = _INT32.unpack_from(data, pos)[0]
        pos += 4
        if pos + ext_length != header_end or ext_length < 0:
            raise ValueError("bad ext length")
        language = _LANGUAGE.get(language)
        if language is None:
            language = LanguageCode(language)
        return _command(code, language, version, opaque, flag, remark, _map_from(data, pos, header_end), body, _ROCKETMQ), stop
    if serialize_type == 0:
        header = _loads(data[start:header_end].decode())
        code = header.get("code", 0)
        version = header.get("version", 0)
        opaque = header.get("opaque", 0)
        flag = header.get("flag", 0)
        if not (_MIN <= code <= _MAX and _MIN <= flag <= _MAX and _MIN <= opaque <= _MAX and _MIN <= version <= _MAX):
            raise ValueError("not an int32")
        remark = header.get("remark")
        if remark is not None and type(remark) is not str:
            raise ValueError("remark must be a string")
        ext = header.get("extFields")
        if ext is None:
            ext = {}
        else:
            "".join(ext.values())  # TypeError unless every value is a str
        return _command(code, _LANGUAGE_BY_NAME[header.get("language", "JAVA")], version, opaque, flag, remark, ext, body, _JSON), stop
    raise ValueError("unknown serialize type")


def split(buffer: bytes) -> list[RemotingCommand]:
    """Every whole frame in ``buffer`` (the stream baseline)."""
    out = []
    append = out.append
    pos, end = 0, len(buffer)
    unpack = _INT32.unpack_from
    while end - pos >= 4:
        stop = pos + 4 + unpack(buffer, pos)[0]
        if stop > end:
            break
        append(decode_at(buffer, pos, stop)[0])
        pos = stop
    return out


# --------------------------------------------------------------------------- pull bodies (stored messages)

from rmqwire.codec import MessageExt  # noqa: E402

_MSG_HEAD = struct.Struct(">iiiiiqqiq")  # TOTALSIZE .. BORNTIMESTAMP
_MSG_V4 = struct.Struct(">4siq4siiqi")  # IPv4 born host .. BODYLEN, in one read
_PROPS_LEN = struct.Struct(">h")
_MAGIC = -626843481
_ntoa = __import__("socket").inet_ntoa
_MSG_SLOTS = [getattr(MessageExt, f).__set__ for f in (
    "topic", "body", "queue_id", "queue_offset", "commit_log_offset", "sys_flag", "born_timestamp", "born_host",
    "store_timestamp", "store_host", "reconsume_times", "prepared_transaction_offset", "flag", "body_crc",
    "store_size", "properties", "broker_name")]
(_m_topic, _m_body, _m_qid, _m_qoff, _m_phys, _m_sys, _m_born_ts, _m_born, _m_store_ts, _m_store, _m_recon, _m_prep,
 _m_flag, _m_crc, _m_size, _m_props, _m_broker) = _MSG_SLOTS


def decode_messages(body: bytes) -> list[MessageExt]:
    """A pull body of IPv4, uncompressed, V1-magic records, by hand: two
    struct reads per record, the properties split inline."""
    out: list[MessageExt] = []
    append = out.append
    pos, end = 0, len(body)
    head, v4, props_len = _MSG_HEAD.unpack_from, _MSG_V4.unpack_from, _PROPS_LEN.unpack_from
    while pos < end:
        if pos + 88 > end:
            raise ValueError("truncated record")
        total, magic, crc, queue_id, flag, queue_offset, physical, sys_flag, born_ts = head(body, pos)
        stop = pos + total
        if total < 91 or stop > end or magic != _MAGIC or sys_flag & 0x31:
            raise ValueError("bad record")
        born_ip, born_port, store_ts, store_ip, store_port, reconsume, prepared, body_len = v4(body, pos + 48)
        p = pos + 88 + body_len
        if body_len < 0 or p + 3 > stop:
            raise ValueError("bad body length")
        topic_len = body[p]
        q = p + 1 + topic_len
        if topic_len > 127 or q + 2 > stop:
            raise ValueError("bad topic length")
        plen = props_len(body, q)[0]
        if plen < 0 or q + 2 + plen != stop:
            raise ValueError("bad properties length")
        props: dict[str, str] = {}
        if plen:
            for chunk in body[q + 2 : stop].decode().split("\x02"):
                if len(chunk) >= 3:
                    key, sep, value = chunk.partition("\x01")
                    if sep and key and value:
                        props[key] = value
        m = _new(MessageExt)
        _m_topic(m, body[p + 1 : q].decode())
        _m_body(m, body[pos + 88 : p])
        _m_qid(m, queue_id)
        _m_qoff(m, queue_offset)
        _m_phys(m, physical)
        _m_sys(m, sys_flag)
        _m_born_ts(m, born_ts)
        _m_born(m, f"{_ntoa(born_ip)}:{born_port}")
        _m_store_ts(m, store_ts)
        _m_store(m, f"{_ntoa(store_ip)}:{store_port}")
        _m_recon(m, reconsume)
        _m_prep(m, prepared)
        _m_flag(m, flag)
        _m_crc(m, crc)
        _m_size(m, total)
        _m_props(m, props)
        _m_broker(m, "")
        append(m)
        pos = stop
    return out
