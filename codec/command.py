"""``RemotingCommand``: the value every frame decodes to, and ``encode`` /
``decode`` between it and whole frames.

Mirrors ``org.apache.rocketmq.remoting.protocol.RemotingCommand`` (its
non-transient fields).  The bytes are the business of :mod:`codec.frame`;
this module only moves values between the frozen dataclass and the compiled
schema, and turns every low-level failure into a :class:`~codec.errors.CodecError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .enums import LanguageCode, RemotingFlag, SerializeType
from .errors import CodecError, EncodeError, MalformedHeaderError, TrailingBytesError
from .frame import FRAME
from .codecs import compile_bound

__all__ = ["RemotingCommand", "encode", "decode", "DEFAULT_VERSION", "MQVersion"]


class MQVersion:
    """Ordinals of Java's ``MQVersion.Version`` that matter on the wire."""

    V3_1_8 = 63  # rocketmq-client-cpp 1.2.0-1.2.4
    V3_4_9 = 121  # ali-ons
    V4_5_2 = 317  # rocketmq-client-go
    V4_9_4 = 401  # name servers send standard JSON route data from here on
    V4_9_8 = 409
    V5_3_3 = 479


#: The version rmqwire advertises: at least ``V4_9_4`` so that name servers
#: answer with standard JSON (``protocol.md`` 7.2).
DEFAULT_VERSION = MQVersion.V5_3_3

_RESPONSE = int(RemotingFlag.RESPONSE)
_ONEWAY = int(RemotingFlag.ONEWAY)


@dataclass(frozen=True, slots=True)
class RemotingCommand:
    """One request or response of the remoting protocol.

    ``code`` is a request code in requests and a response code in responses
    (a plain ``int``: codes this library does not name stay valid).
    ``ext_fields`` is the custom header flattened to strings, in insertion
    order; ``body`` is opaque bytes.  ``serialize_type`` is the header
    serialisation the frame used or will use.
    """

    code: int
    language: LanguageCode = LanguageCode.PYTHON
    version: int = DEFAULT_VERSION
    opaque: int = 0
    flag: int = 0
    remark: str | None = None
    ext_fields: dict[str, str] = field(default_factory=dict, hash=False)
    body: bytes = b""
    serialize_type: SerializeType = SerializeType.JSON

    @property
    def is_response(self) -> bool:
        """Flag bit 0 (``RPC_TYPE``): a response, not a request."""
        return bool(self.flag & _RESPONSE)

    @property
    def is_oneway(self) -> bool:
        """Flag bit 1 (``RPC_ONEWAY``): a request that gets no response."""
        return bool(self.flag & _ONEWAY)

    @classmethod
    def request(
        cls,
        code: int,
        ext_fields: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        opaque: int = 0,
        oneway: bool = False,
        language: LanguageCode = LanguageCode.PYTHON,
        version: int = DEFAULT_VERSION,
        serialize_type: SerializeType = SerializeType.JSON,
        remark: str | None = None,
    ) -> RemotingCommand:
        """A request (flag 0, or 2 when ``oneway``)."""
        return cls(
            code=int(code),
            language=language,
            version=version,
            opaque=opaque,
            flag=_ONEWAY if oneway else 0,
            remark=remark,
            ext_fields=dict(ext_fields) if ext_fields else {},
            body=bytes(body),
            serialize_type=serialize_type,
        )

    @classmethod
    def response(
        cls,
        code: int,
        opaque: int,
        remark: str | None = None,
        ext_fields: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        language: LanguageCode = LanguageCode.JAVA,
        version: int = DEFAULT_VERSION,
        serialize_type: SerializeType = SerializeType.JSON,
    ) -> RemotingCommand:
        """A response (flag 1) to the request with ``opaque``."""
        return cls(
            code=int(code),
            language=language,
            version=version,
            opaque=opaque,
            flag=_RESPONSE,
            remark=remark,
            ext_fields=dict(ext_fields) if ext_fields else {},
            body=bytes(body),
            serialize_type=serialize_type,
        )

    def reply(
        self,
        code: int,
        remark: str | None = None,
        ext_fields: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        language: LanguageCode = LanguageCode.JAVA,
        version: int = DEFAULT_VERSION,
    ) -> RemotingCommand:
        """The response to this request: same opaque, same serialize type
        (as a 4.9.4+ Java server answers)."""
        return RemotingCommand.response(
            code, self.opaque, remark, ext_fields, body,
            language=language, version=version, serialize_type=self.serialize_type,
        )

    def with_opaque(self, opaque: int) -> RemotingCommand:
        """A copy with another opaque (what a session assigns on sending)."""
        if type(self) is RemotingCommand:
            return _new_command(
                self.code, self.language, self.version, opaque, self.flag,
                self.remark, self.ext_fields, self.body, self.serialize_type,
            )
        return replace(self, opaque=opaque)


def _fast_constructor(cls: type, defaults: Mapping[str, Any] | None = None) -> Callable[..., Any]:
    """A positional constructor for a frozen, slotted dataclass without
    ``__post_init__``: ``object.__new__`` plus each slot descriptor's
    ``__set__``, instead of the generated ``__init__``'s
    ``object.__setattr__`` per field (about 40 % cheaper).  The instance is the
    one ``cls(*args)`` makes: same class, same slots, same equality.  Fields
    named in ``defaults`` are not arguments: they get those values."""
    defaults = dict(defaults or {})
    names = [f.name for f in fields(cls)]
    args = [n for n in names if n not in defaults]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_defaults": defaults}
    namespace.update({f"_set_{n}": getattr(cls, n).__set__ for n in names})
    source = (
        f"def new_{cls.__name__}({', '.join(args)}):\n"
        "    self = _new(_cls)\n"
        + "".join(f"    _set_{n}(self, {n if n in args else f'_defaults[{n!r}]'})\n" for n in names)
        + "    return self\n"
    )
    exec(compile(source, f"<rmqwire-{cls.__name__}-constructor>", "exec"), namespace)
    make: Callable[..., Any] = namespace[f"new_{cls.__name__}"]
    make.inline = (cls, names, defaults)  # type: ignore[attr-defined]  # for generated code
    return make


_new_command: Callable[..., RemotingCommand] = _fast_constructor(RemotingCommand)

#: The frame schema bound to :class:`RemotingCommand`: its parser returns
#: commands and its builder reads them, with no nested dicts in between.
#: The schema's leaf field names are the dataclass's field names.
COMMAND_CODEC = compile_bound(FRAME, _new_command, [f.name for f in fields(RemotingCommand)])
_build = COMMAND_CODEC.build_bytes
_parse = COMMAND_CODEC.parse_at


# encode() and decode() below are the full semantics.  The names the package
# exports are the same functions with the generated fast code for the usual
# call (a RemotingCommand; one whole frame as bytes) inlined in front, so
# that call costs one Python call; anything else runs the functions below.


def encode(cmd: RemotingCommand) -> bytes:
    """The whole frame for ``cmd``, 4-byte total length included.

    Raises :class:`~codec.errors.EncodeError` for values that do not fit the
    wire (a code over 32767 in a ROCKETMQ header, a non-str extFields value,
    a header over 16 MiB ...).
    """
    if not isinstance(cmd, RemotingCommand):
        raise TypeError(f"encode() takes a RemotingCommand, not {type(cmd).__name__}")
    try:
        return _build(cmd, None)
    except CodecError:
        raise
    except (struct.error, OverflowError, TypeError, AttributeError, UnicodeEncodeError, ValueError) as exc:
        raise EncodeError(f"cannot encode {cmd.code=} {cmd.serialize_type.name}: {exc}") from None


def command_from_parsed(value: dict[str, Any]) -> RemotingCommand:
    """The :class:`RemotingCommand` for a parsed :data:`~codec.frame.FRAME` value."""
    header = value["header"]
    return RemotingCommand(
        header["code"],
        header["language"],
        header["version"],
        header["opaque"],
        header["flag"],
        header["remark"],
        header["ext_fields"],
        value["body"],
        value["serialize_type"],
    )


def decode(frame: bytes | bytearray | memoryview) -> RemotingCommand:
    """Decode exactly one whole frame (4-byte total length included).

    Raises a :class:`~codec.errors.CodecError` subclass for anything else:
    :class:`~codec.errors.TruncatedFrameError` if bytes are missing,
    :class:`~codec.errors.TrailingBytesError` if bytes follow the frame.
    """
    data = frame if type(frame) is bytes else bytes(frame)
    end = len(data)
    try:
        cmd, pos = _parse(data, 0, end, None)
    except CodecError:
        raise
    except (struct.error, IndexError, KeyError, ValueError, TypeError, RecursionError) as exc:  # pragma: no cover - defensive
        raise MalformedHeaderError(f"undecodable frame: {exc!r}") from None
    if pos != end:
        raise TrailingBytesError(f"{end - pos} bytes follow the frame")
    return cmd  # type: ignore[no-any-return]


encode = COMMAND_CODEC.encoder(encode, RemotingCommand)  # type: ignore[assignment]
decode = COMMAND_CODEC.decoder(decode)  # type: ignore[assignment]
