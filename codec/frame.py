"""The RemotingCommand frame and both header serialisations, declared once.

Mirrors ``RemotingCommand.encode``/``decode`` and ``RocketMQSerializable``
(``remoting/.../protocol``).  Everything else in :mod:`codec` is derived from
these declarations: :func:`codec.command.encode` and
:func:`codec.command.decode` run the buffer-mode compilation of :data:`FRAME`,
and the tests check it against the interpreted schema.

Frame, big-endian::

    int32   total length, counting everything after itself
    uint8   serialize type (0 JSON, 1 ROCKETMQ)   } Java's "header meta" word:
    uint24  header length                          } (type << 24) | length
    ...     header (JSON text or ROCKETMQ binary)
    ...     body (the rest)
"""

from __future__ import annotations

from construct import GreedyBytes, Int8ub, Int16sb, Int24ub, Int32sb, Switch, this

from .constructs import EnumField, JsonHeader, NullableString, Record, Reject, Sized, StringMap
from .codecs import compile_buffer
from .enums import LanguageCode, SerializeType
from .errors import BadHeaderLengthError, FrameError, MalformedHeaderError, TruncatedFrameError, UnknownSerializeTypeError

__all__ = ["ROCKETMQ_HEADER", "JSON_HEADER", "FRAME", "FRAME_CODEC", "FIXED_HEADER_SIZE"]

#: ``RocketMQSerializable.rocketMQProtocolEncode``: a 21-byte fixed part, the
#: remark, then the extFields block.  int16 code and version: Java casts.
ROCKETMQ_HEADER = Record(
    "code" / Int16sb,
    "language" / EnumField(Int8ub, LanguageCode),
    "version" / Int16sb,
    "opaque" / Int32sb,
    "flag" / Int32sb,
    "remark" / NullableString(MalformedHeaderError, "remark"),
    "ext_fields" / Sized(Int32sb, StringMap(), MalformedHeaderError, "extFields block"),
)

FIXED_HEADER_SIZE = 21

#: ``RemotingSerializable`` (fastjson) text with the same logical fields.
JSON_HEADER = JsonHeader()

FRAME = Sized(
    Int32sb,
    Record(
        "serialize_type" / EnumField(Int8ub, SerializeType),
        "header"
        / Sized(
            Int24ub,
            Switch(
                this.serialize_type,
                {SerializeType.ROCKETMQ: ROCKETMQ_HEADER, SerializeType.JSON: JSON_HEADER},
                default=Reject(this.serialize_type, UnknownSerializeTypeError),
            ),
            BadHeaderLengthError,
            "header",
        ),
        "body" / GreedyBytes,
        # a frame too short to hold the header-length word has no header length
        error=BadHeaderLengthError,
    ),
    TruncatedFrameError,
    "frame",
    negative=FrameError,
)

#: :data:`FRAME` compiled to plain functions (the hot path).
FRAME_CODEC = compile_buffer(FRAME)
