"""rmqwire's codec: the Apache RocketMQ remoting protocol, sans I/O.

This package is pure: no sockets, no asyncio, no clocks, no logging setup.
It turns bytes into :class:`RemotingCommand` values and back, following the
Java reference (``org.apache.rocketmq.remoting.protocol``) and what real
clients put on the wire.  The wire format is declared once, in ``construct``
(:mod:`codec.frame`); everything else is derived from it.
"""

from .acl import Credentials, sign, sign_command, verify_command
from .body import (
    BrokerData,
    CMResult,
    ConsumeMessageDirectlyResult,
    ConsumerRunningInfo,
    ConsumeStatus,
    ConsumerData,
    GetConsumerListByGroupResponseBody,
    LockBatchRequestBody,
    LockBatchResponseBody,
    MessageQueueData,
    HeartbeatData,
    PermName,
    ProcessQueueInfo,
    ProducerData,
    QueueData,
    SubscriptionData,
    TopicRouteData,
    UnlockBatchRequestBody,
)
from .command import DEFAULT_VERSION, MQVersion, RemotingCommand, decode, encode
from .enums import LanguageCode, PullSysFlag, RemotingFlag, RequestCode, ResponseCode, SerializeType
from .errors import *  # noqa: F403 - the error tree is part of the public API
from .errors import __all__ as _errors_all
from .filter import build_subscription, tag_hash_code, tags_match
from .headers import (
    CheckTransactionStateRequestHeader,
    ConsumeMessageDirectlyResultRequestHeader,
    ConsumerSendMsgBackRequestHeader,
    EndTransactionRequestHeader,
    GetConsumerListByGroupRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    GetRouteInfoRequestHeader,
    NotifyConsumerIdsChangedRequestHeader,
    PullMessageRequestHeader,
    PullMessageResponseHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    ReplyMessageRequestHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
    SendMessageRequestHeader,
    SendMessageResponseHeader,
    UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
)
from .message import (
    BatchEntry,
    MessageSysFlag,
    UniqueIdGenerator,
    compress_body,
    create_offset_msg_id,
    decode_batch,
    decode_properties,
    decompress_body,
    encode_batch,
    encode_batch_record,
    encode_properties,
    new_message_id,
    parse_offset_msg_id,
    parse_unique_id,
)
from .session import BufferBudget, ClientSession, ServerSession
from .store import MessageExt, decode_messages, encode_message, message_record_length
from .stream import DEFAULT_MAX_FRAME_SIZE, FrameDecoder

__all__ = [
    # frames
    "RemotingCommand",
    "encode",
    "decode",
    "FrameDecoder",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_VERSION",
    "MQVersion",
    "ClientSession",
    "ServerSession",
    "BufferBudget",
    # constants
    "RequestCode",
    "ResponseCode",
    "LanguageCode",
    "SerializeType",
    "RemotingFlag",
    "PullSysFlag",
    "MessageSysFlag",
    "PermName",
    # typed headers
    "SendMessageRequestHeader",
    "SendMessageResponseHeader",
    "GetRouteInfoRequestHeader",
    "UnregisterClientRequestHeader",
    "PullMessageRequestHeader",
    "PullMessageResponseHeader",
    "QueryConsumerOffsetRequestHeader",
    "QueryConsumerOffsetResponseHeader",
    "UpdateConsumerOffsetRequestHeader",
    "GetMaxOffsetRequestHeader",
    "GetMaxOffsetResponseHeader",
    "GetMinOffsetRequestHeader",
    "GetMinOffsetResponseHeader",
    "SearchOffsetRequestHeader",
    "SearchOffsetResponseHeader",
    "GetEarliestMsgStoretimeRequestHeader",
    "GetEarliestMsgStoretimeResponseHeader",
    "GetConsumerListByGroupRequestHeader",
    "NotifyConsumerIdsChangedRequestHeader",
    "ConsumerSendMsgBackRequestHeader",
    "GetConsumerRunningInfoRequestHeader",
    "ConsumeMessageDirectlyResultRequestHeader",
    "EndTransactionRequestHeader",
    "CheckTransactionStateRequestHeader",
    "ReplyMessageRequestHeader",
    # bodies
    "HeartbeatData",
    "ProducerData",
    "ConsumerData",
    "SubscriptionData",
    "TopicRouteData",
    "QueueData",
    "BrokerData",
    "MessageQueueData",
    "LockBatchRequestBody",
    "LockBatchResponseBody",
    "UnlockBatchRequestBody",
    "GetConsumerListByGroupResponseBody",
    "ConsumerRunningInfo",
    "ProcessQueueInfo",
    "ConsumeStatus",
    "ConsumeMessageDirectlyResult",
    "CMResult",
    # messages
    "encode_properties",
    "decode_properties",
    "compress_body",
    "decompress_body",
    "UniqueIdGenerator",
    "new_message_id",
    "parse_unique_id",
    "create_offset_msg_id",
    "parse_offset_msg_id",
    "BatchEntry",
    "encode_batch",
    "encode_batch_record",
    "decode_batch",
    # subscriptions (namespaces: see codec.namespace)
    "build_subscription",
    "tag_hash_code",
    "tags_match",
    # stored messages (pull bodies)
    "MessageExt",
    "decode_messages",
    "encode_message",
    "message_record_length",
    # ACL
    "Credentials",
    "sign",
    "sign_command",
    "verify_command",
    *_errors_all,
]
