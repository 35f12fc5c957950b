"""Protocol constants, named exactly as the Java constants so that grep works
across implementations.

Mirrors ``RequestCode``, ``ResponseCode`` / ``RemotingSysResponseCode``,
``LanguageCode`` and ``SerializeType`` of ``org.apache.rocketmq.remoting.protocol``
and the two ``RemotingCommand`` flag bits.  A code this table does not know is
still a valid code on the wire: ``RemotingCommand.code`` stays a plain ``int``,
and :class:`LanguageCode` makes pseudo-members for unknown values so that a
frame from a newer peer decodes and re-encodes unchanged.
"""

from __future__ import annotations

import enum

__all__ = ["RequestCode", "ResponseCode", "LanguageCode", "SerializeType", "RemotingFlag", "PullSysFlag"]


class RequestCode(enum.IntEnum):
    """Request codes (``RequestCode.java``) of the producer, consumer,
    transaction, ordered-consumption and request-reply paths."""

    SEND_MESSAGE = 10
    PULL_MESSAGE = 11
    QUERY_MESSAGE = 12
    UPDATE_AND_CREATE_TOPIC = 17
    QUERY_CONSUMER_OFFSET = 14
    UPDATE_CONSUMER_OFFSET = 15
    SEARCH_OFFSET_BY_TIMESTAMP = 29
    GET_MAX_OFFSET = 30
    GET_MIN_OFFSET = 31
    GET_EARLIEST_MSG_STORETIME = 32
    VIEW_MESSAGE_BY_ID = 33
    HEART_BEAT = 34
    UNREGISTER_CLIENT = 35
    CONSUMER_SEND_MSG_BACK = 36
    END_TRANSACTION = 37
    GET_CONSUMER_LIST_BY_GROUP = 38
    CHECK_TRANSACTION_STATE = 39
    NOTIFY_CONSUMER_IDS_CHANGED = 40
    LOCK_BATCH_MQ = 41
    UNLOCK_BATCH_MQ = 42
    GET_ROUTEINFO_BY_TOPIC = 105
    GET_BROKER_CLUSTER_INFO = 106
    RESET_CONSUMER_CLIENT_OFFSET = 220
    GET_CONSUMER_STATUS_FROM_CLIENT = 221
    GET_CONSUMER_RUNNING_INFO = 307
    CONSUME_MESSAGE_DIRECTLY = 309
    SEND_MESSAGE_V2 = 310
    SEND_BATCH_MESSAGE = 320
    SEND_REPLY_MESSAGE = 324
    SEND_REPLY_MESSAGE_V2 = 325
    PUSH_REPLY_MESSAGE_TO_CLIENT = 326


class ResponseCode(enum.IntEnum):
    """Response codes (``RemotingSysResponseCode`` 0-4 plus ``ResponseCode``)."""

    SUCCESS = 0
    SYSTEM_ERROR = 1
    SYSTEM_BUSY = 2
    REQUEST_CODE_NOT_SUPPORTED = 3
    TRANSACTION_FAILED = 4
    FLUSH_DISK_TIMEOUT = 10
    SLAVE_NOT_AVAILABLE = 11
    FLUSH_SLAVE_TIMEOUT = 12
    MESSAGE_ILLEGAL = 13
    SERVICE_NOT_AVAILABLE = 14
    VERSION_NOT_SUPPORTED = 15
    NO_PERMISSION = 16
    TOPIC_NOT_EXIST = 17
    TOPIC_EXIST_ALREADY = 18
    PULL_NOT_FOUND = 19
    PULL_RETRY_IMMEDIATELY = 20
    PULL_OFFSET_MOVED = 21
    QUERY_NOT_FOUND = 22
    SUBSCRIPTION_PARSE_FAILED = 23
    SUBSCRIPTION_NOT_EXIST = 24
    SUBSCRIPTION_NOT_LATEST = 25
    SUBSCRIPTION_GROUP_NOT_EXIST = 26
    FILTER_DATA_NOT_EXIST = 27
    FILTER_DATA_NOT_LATEST = 28
    INVALID_PARAMETER = 29
    TRANSACTION_SHOULD_COMMIT = 200
    TRANSACTION_SHOULD_ROLLBACK = 201
    TRANSACTION_STATE_UNKNOW = 202
    TRANSACTION_STATE_GROUP_WRONG = 203
    NO_BUYER_ID = 204
    NOT_IN_CURRENT_UNIT = 205
    CONSUMER_NOT_ONLINE = 206
    CONSUME_MSG_TIMEOUT = 207
    FLOW_CONTROL = 215
    GO_AWAY = 1500


class LanguageCode(enum.IntEnum):
    """The sender's language: a byte in ROCKETMQ headers, the name in JSON.

    Unknown bytes and unknown names decode to pseudo-members (``UNKNOWN_42``,
    or the name as sent with the value of ``OTHER``) instead of failing, as
    Java's ``LanguageCode.valueOf(byte)`` returns ``null`` without failing.
    """

    JAVA = 0
    CPP = 1
    DOTNET = 2
    PYTHON = 3
    DELPHI = 4
    ERLANG = 5
    RUBY = 6
    OTHER = 7
    HTTP = 8
    GO = 9
    PHP = 10
    OMS = 11
    RUST = 12
    NODE_JS = 13

    @classmethod
    def _missing_(cls, value: object) -> LanguageCode | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        return cls._pseudo(f"UNKNOWN_{value}", value)

    @classmethod
    def _pseudo(cls, name: str, value: int) -> LanguageCode:
        member = int.__new__(cls, value)
        member._name_ = name
        member._value_ = value
        return member

    @classmethod
    def from_name(cls, name: str) -> LanguageCode:
        """The member for a JSON ``"language"`` name; unknown names are kept."""
        member = cls.__members__.get(name)
        if member is not None:
            return member
        # our own name for an unknown byte (see _missing_) reads back as that byte
        prefix, _, number = name.partition("UNKNOWN_")
        if not prefix and number.isdigit() and number.isascii() and int(number) <= 255:
            return cls(int(number))
        return cls._pseudo(name, cls.OTHER.value)


class SerializeType(enum.IntEnum):
    """The header serialisation, the high byte of the header-length word."""

    JSON = 0
    ROCKETMQ = 1


class RemotingFlag(enum.IntFlag):
    """Bits of ``RemotingCommand.flag`` (``RPC_TYPE`` = bit 0, ``RPC_ONEWAY`` = bit 1)."""

    RESPONSE = 1 << 0
    ONEWAY = 1 << 1


class PullSysFlag(enum.IntFlag):
    """Bits of the PULL_MESSAGE ``sysFlag`` header field (``PullSysFlag.java``).

    Not to be confused with :class:`~codec.message.MessageSysFlag`, the
    ``sysFlag`` of a message: the same header key, another bit set.
    """

    COMMIT_OFFSET = 0x1
    SUSPEND = 0x2
    SUBSCRIPTION = 0x4
    CLASS_FILTER = 0x8
    LITE_PULL = 0x10
