"""Typed custom headers: the ``extFields`` of a request or response as frozen
dataclasses.

Each header declares one wire table (Java field name, V2 letter, attribute,
Java type, ``@CFNotNull``) and inherits its conversions from
:class:`CustomHeader`; see :mod:`codec.headers.base` for the rules.
"""

from .base import Boolean, CustomHeader, Integer, Long, String, WireField, WireTable
from .client import UnregisterClientRequestHeader
from .consumer import (
    ConsumeMessageDirectlyResultRequestHeader,
    ConsumerSendMsgBackRequestHeader,
    GetConsumerListByGroupRequestHeader,
    GetConsumerRunningInfoRequestHeader,
    NotifyConsumerIdsChangedRequestHeader,
)
from .offset import (
    GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader,
    GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader,
    QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
    SearchOffsetRequestHeader,
    SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
)
from .pull import PullMessageRequestHeader, PullMessageResponseHeader
from .reply import ReplyMessageRequestHeader
from .route import GetRouteInfoRequestHeader
from .send import SendMessageRequestHeader, SendMessageResponseHeader
from .transaction import CheckTransactionStateRequestHeader, EndTransactionRequestHeader

__all__ = [
    "CustomHeader",
    "WireTable",
    "WireField",
    "String",
    "Integer",
    "Long",
    "Boolean",
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
]
