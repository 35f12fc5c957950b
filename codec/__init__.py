"""rmqwire's codec: the Apache RocketMQ remoting protocol, sans I/O.

This package is pure: no sockets, no asyncio, no clocks, no logging setup.
It turns bytes into :class:`RemotingCommand` values and back, following the
Java reference (``org.apache.rocketmq.remoting.protocol``) and what real
clients put on the wire.  The wire format is declared once, in ``construct``
(:mod:`codec.frame`); everything else is derived from it.
"""

from .command import DEFAULT_VERSION, MQVersion, RemotingCommand, decode, encode
from .enums import LanguageCode, RemotingFlag, RequestCode, ResponseCode, SerializeType
from .errors import *  # noqa: F403 - the error tree is part of the public API
from .errors import __all__ as _errors_all
from .stream import DEFAULT_MAX_FRAME_SIZE, FrameDecoder

__all__ = [
    "RemotingCommand",
    "encode",
    "decode",
    "FrameDecoder",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_VERSION",
    "MQVersion",
    "RequestCode",
    "ResponseCode",
    "LanguageCode",
    "SerializeType",
    "RemotingFlag",
    *_errors_all,
]
