"""The one exception tree of rmqwire.

Every public call of :mod:`codec` and :mod:`client` raises only these (besides
``TypeError`` for calling an API with the wrong Python types).  The tree has
two axes, as in kafka-python and h11:

* *where* the fault lies: bytes we could not read or write (:class:`CodecError`),
  a misuse of the client on this side (:class:`ClientError`), the transport
  (:class:`RemotingError`), or a broker / name server that answered with an
  error code (:class:`BrokerError`);
* whether trying again may help: the ``retriable`` class attribute.

Broker response codes map to classes through :func:`BrokerError.for_code`,
which never loses an unknown code: it falls back to :class:`BrokerError` and
keeps ``code`` and ``remark``.  The builtins ``ConnectionError`` and
``TimeoutError`` are subclassed, not shadowed, so ``except TimeoutError`` works.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "RocketMQError",
    "CodecError",
    "FrameError",
    "FrameTooLargeError",
    "TruncatedFrameError",
    "TrailingBytesError",
    "BadHeaderLengthError",
    "UnknownSerializeTypeError",
    "MalformedHeaderError",
    "MissingHeaderFieldError",
    "MalformedBodyError",
    "EncodeError",
    "ClientError",
    "ConfigError",
    "ServiceStateError",
    "InvalidMessageError",
    "ConsumerError",
    "OffsetStoreError",
    "RemotingError",
    "ConnectError",
    "RequestTimeoutError",
    "ReplyTimeoutError",
    "ConnectionClosedError",
    "NoRouteError",
    "BrokerError",
    "BrokerSystemError",
    "SystemBusyError",
    "RequestCodeNotSupportedError",
    "MessageIllegalError",
    "ServiceNotAvailableError",
    "VersionNotSupportedError",
    "NoPermissionError",
    "TopicNotExistError",
    "InvalidParameterError",
    "QueryNotFoundError",
    "SubscriptionError",
    "SubscriptionParseFailedError",
    "SubscriptionNotExistError",
    "SubscriptionNotLatestError",
    "SubscriptionGroupNotExistError",
    "FilterDataNotExistError",
    "FilterDataNotLatestError",
    "ConsumerNotOnlineError",
    "ConsumeMessageTimeoutError",
    "FlowControlError",
    "GoAwayError",
]


class RocketMQError(Exception):
    """Root of every error rmqwire raises."""

    retriable: ClassVar[bool] = False


# --------------------------------------------------------------------------- codec


class CodecError(RocketMQError, ValueError):
    """Bytes that are not a valid RocketMQ frame, header or body (or values
    that cannot be encoded as one)."""


class FrameError(CodecError):
    """The 8-byte frame prelude or the frame's lengths are wrong."""


class FrameTooLargeError(FrameError):
    """The declared total length exceeds the configured maximum frame size."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"frame of {length} bytes exceeds the limit of {limit} bytes")
        self.length = length
        self.limit = limit


class TruncatedFrameError(FrameError):
    """Fewer bytes than the frame (or a field inside it) declares."""


class TrailingBytesError(FrameError):
    """Bytes after the end of the one frame :func:`codec.decode` was given."""


class BadHeaderLengthError(FrameError):
    """The header length does not fit in the frame (Java: "bad header length")."""


class UnknownSerializeTypeError(FrameError):
    """The high byte of the header-length word is neither 0 (JSON) nor 1 (ROCKETMQ)."""

    def __init__(self, value: int) -> None:
        super().__init__(f"unknown serialize type {value} (expected 0 JSON or 1 ROCKETMQ)")
        self.value = value


class MalformedHeaderError(CodecError):
    """The header bytes do not parse as the header format they claim."""


class MissingHeaderFieldError(MalformedHeaderError):
    """A typed custom header lacks a field Java marks ``@CFNotNull``, or holds a
    value that does not convert to the field's type."""

    def __init__(self, header: str, field: str, detail: str = "is missing") -> None:
        super().__init__(f"{header}: field {field!r} {detail}")
        self.header = header
        self.field = field


class MalformedBodyError(CodecError):
    """A body (heartbeat, route data, batch, properties) does not parse."""


class EncodeError(CodecError):
    """A value cannot be put on the wire (out of range, wrong type, too long)."""


# --------------------------------------------------------------------------- client (local)


class ClientError(RocketMQError):
    """A misuse of the client detected on this side, before anything was sent."""


class ConfigError(ClientError, ValueError):
    """An invalid producer option (group name, address list, timeout ...)."""


class ServiceStateError(ClientError):
    """An operation not allowed in the producer's current service state."""


class InvalidMessageError(ClientError, ValueError):
    """A message the broker would reject (Java ``Validators.checkMessage``)."""


class ConsumerError(ClientError):
    """A consumer could not do what was asked on this side (no listener,
    nothing subscribed, a queue it does not own, ...)."""


class OffsetStoreError(ConsumerError):
    """A local offset file (``offsets.json`` and its ``.bak``) could not be
    read or written."""


# --------------------------------------------------------------------------- transport


class RemotingError(RocketMQError):
    """The transport failed: no connection, no answer, connection lost."""

    retriable = True


class ConnectError(RemotingError, ConnectionError):
    """Could not connect to a name server or broker address."""

    def __init__(self, addr: str, reason: str = "") -> None:
        super().__init__(f"cannot connect to {addr}" + (f": {reason}" if reason else ""))
        self.addr = addr


class RequestTimeoutError(RemotingError, TimeoutError):
    """No response arrived within the request's timeout."""


class ReplyTimeoutError(RequestTimeoutError):
    """A request-reply request (``request()``) was sent, but no reply came
    back within its timeout (Java's ``RequestTimeoutException``).

    ``correlation_id`` is the request's ``CORRELATION_ID``, ``topic`` its
    topic, ``timeout`` the seconds waited.  Not retriable: the request was
    delivered, and sending it again would ask the replier a second time.
    """

    retriable = False

    def __init__(self, message: str, *, correlation_id: str = "", topic: str = "", timeout: float = 0.0) -> None:
        super().__init__(message)
        self.correlation_id = correlation_id
        self.topic = topic
        self.timeout = timeout


class ConnectionClosedError(RemotingError, ConnectionError):
    """The connection closed while a request was pending."""


class NoRouteError(RemotingError):
    """No route (publish queues) could be found for a topic."""


# --------------------------------------------------------------------------- remote


class BrokerError(RocketMQError):
    """A broker or name server answered with an error response code.

    ``code`` and ``remark`` are the response's own; ``for_code`` picks the most
    specific subclass and falls back to this class for codes it does not know.
    """

    code_value: ClassVar[int | None] = None
    _registry: ClassVar[dict[int, type[BrokerError]]] = {}

    def __init__(self, code: int, remark: str | None = None, addr: str | None = None) -> None:
        where = f" from {addr}" if addr else ""
        super().__init__(f"broker error code {code}{where}: {remark or '(no remark)'}")
        self.code = code
        self.remark = remark
        self.addr = addr

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code_value is not None:
            BrokerError._registry[cls.code_value] = cls

    @staticmethod
    def for_code(code: int, remark: str | None = None, addr: str | None = None) -> BrokerError:
        """The exception for a response ``code``, keeping ``code`` and ``remark``."""
        cls = BrokerError._registry.get(code, BrokerError)
        return cls(code, remark, addr)


class BrokerSystemError(BrokerError):
    code_value = 1  # SYSTEM_ERROR
    retriable = True


class SystemBusyError(BrokerError):
    code_value = 2  # SYSTEM_BUSY
    retriable = True


class RequestCodeNotSupportedError(BrokerError):
    code_value = 3  # REQUEST_CODE_NOT_SUPPORTED


class MessageIllegalError(BrokerError):
    code_value = 13  # MESSAGE_ILLEGAL


class ServiceNotAvailableError(BrokerError):
    code_value = 14  # SERVICE_NOT_AVAILABLE
    retriable = True


class VersionNotSupportedError(BrokerError):
    code_value = 15  # VERSION_NOT_SUPPORTED


class NoPermissionError(BrokerError):
    code_value = 16  # NO_PERMISSION


class TopicNotExistError(BrokerError):
    code_value = 17  # TOPIC_NOT_EXIST


class InvalidParameterError(BrokerError):
    code_value = 29  # INVALID_PARAMETER


# The PULL_MESSAGE outcomes PULL_NOT_FOUND (19), PULL_RETRY_IMMEDIATELY (20)
# and PULL_OFFSET_MOVED (21) get no class on purpose: they are pull statuses
# (Java's PullStatus), answered with a full PullMessageResponseHeader, not
# failures; the consumer reads them from the response code.


class QueryNotFoundError(BrokerError):
    """No such record: QUERY_CONSUMER_OFFSET for a queue the group never
    committed (a consumer then starts from its CONSUME_FROM_WHERE), or a
    query by key / id that found nothing."""

    code_value = 22  # QUERY_NOT_FOUND


class SubscriptionError(BrokerError):
    """The broker does not (yet) hold a usable subscription for the pull's
    group and topic; the codes 23-28."""


class SubscriptionParseFailedError(SubscriptionError):
    code_value = 23  # SUBSCRIPTION_PARSE_FAILED


class SubscriptionNotExistError(SubscriptionError):
    code_value = 24  # SUBSCRIPTION_NOT_EXIST
    retriable = True


class SubscriptionNotLatestError(SubscriptionError):
    """The pull carries a newer ``subVersion`` than the broker has seen in a
    heartbeat: retry once the heartbeat has arrived."""

    code_value = 25  # SUBSCRIPTION_NOT_LATEST
    retriable = True


class SubscriptionGroupNotExistError(SubscriptionError):
    code_value = 26  # SUBSCRIPTION_GROUP_NOT_EXIST


class FilterDataNotExistError(SubscriptionError):
    code_value = 27  # FILTER_DATA_NOT_EXIST
    retriable = True


class FilterDataNotLatestError(SubscriptionError):
    code_value = 28  # FILTER_DATA_NOT_LATEST
    retriable = True


class ConsumerNotOnlineError(BrokerError):
    """GET_CONSUMER_RUNNING_INFO / CONSUME_MESSAGE_DIRECTLY for a client id
    that has no connection to the broker."""

    code_value = 206  # CONSUMER_NOT_ONLINE


class ConsumeMessageTimeoutError(BrokerError):
    code_value = 207  # CONSUME_MSG_TIMEOUT
    retriable = True


class FlowControlError(BrokerError):
    code_value = 215  # FLOW_CONTROL
    retriable = True


class GoAwayError(BrokerError):
    code_value = 1500  # GO_AWAY
    retriable = True
