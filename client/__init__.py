"""rmqwire: the Apache RocketMQ remoting protocol and a client built on it.

``AsyncProducer`` runs on asyncio; ``Producer`` is its blocking facade for
scripts.  :mod:`rmqwire.codec` is the sans-I/O protocol layer underneath.
``rmqwire.testing.LocalBroker`` is an embedded name server and broker for
tests and demos (imported on demand: the library never depends on it).

The names below are imported on first use (PEP 562), so that ``import
rmqwire`` and the pytest plugin stay cheap in any environment where rmqwire
is installed: the codec compiles its hot path when it is first needed, not
when pytest starts.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .codec.acl import Credentials
    from .codec.store import MessageExt
    from .consumer.lite_pull import AsyncLitePullConsumer, LitePullConsumer
    from .consumer.push import AsyncPushConsumer
    from .consumer.push_blocking import PushConsumer
    from .instance import ServiceState
    from .inner import ConsumerInner, ProducerInner
    from .producer import AsyncProducer, MessageQueueSelector
    from .request_reply import ReplyMessage, create_reply_message
    from .selector import select_message_queue_by_hash, select_message_queue_by_random
    from .sync import BlockingFacade, Producer
    from .transaction import AsyncTransactionProducer, TransactionProducer, TransactionSendResult
    from .types import (
        ConsumeFromWhere,
        ConsumeOrderlyStatus,
        ConsumeStatus,
        ConsumeType,
        LocalTransactionState,
        Message,
        MessageModel,
        MessageQueue,
        SendResult,
        SendStatus,
    )

__all__ = [
    "AsyncProducer",
    "Producer",
    "AsyncPushConsumer",
    "PushConsumer",
    "AsyncLitePullConsumer",
    "LitePullConsumer",
    "MessageExt",
    "Message",
    "MessageQueue",
    "SendResult",
    "SendStatus",
    "MessageModel",
    "ConsumeFromWhere",
    "ConsumeStatus",
    "ConsumeOrderlyStatus",
    "ConsumeType",
    "LocalTransactionState",
    "AsyncTransactionProducer",
    "TransactionProducer",
    "TransactionSendResult",
    "ServiceState",
    "Credentials",
    "MessageQueueSelector",
    "select_message_queue_by_hash",
    "select_message_queue_by_random",
    "BlockingFacade",
    "ConsumerInner",
    "ProducerInner",
    "create_reply_message",
    "ReplyMessage",
]

__version__ = "0.1.0"

# The library never configures logging; a NullHandler on the top logger
# keeps Python's last-resort handler from printing our warnings to stderr
# in an application that has not configured logging either.
logging.getLogger(__name__).addHandler(logging.NullHandler())

#: public name -> the module that defines it
_EXPORTS = {
    "AsyncProducer": ".producer",
    "Producer": ".sync",
    "AsyncPushConsumer": ".consumer.push",
    "PushConsumer": ".consumer.push_blocking",
    "AsyncLitePullConsumer": ".consumer.lite_pull",
    "LitePullConsumer": ".consumer.lite_pull",
    "MessageExt": ".codec.store",
    "Message": ".types",
    "MessageQueue": ".types",
    "SendResult": ".types",
    "SendStatus": ".types",
    "MessageModel": ".types",
    "ConsumeFromWhere": ".types",
    "ConsumeStatus": ".types",
    "ConsumeOrderlyStatus": ".types",
    "ConsumeType": ".types",
    "LocalTransactionState": ".types",
    "AsyncTransactionProducer": ".transaction",
    "TransactionProducer": ".transaction",
    "TransactionSendResult": ".transaction",
    "ServiceState": ".instance",
    "Credentials": ".codec.acl",
    "MessageQueueSelector": ".producer",
    "select_message_queue_by_hash": ".selector",
    "select_message_queue_by_random": ".selector",
    "BlockingFacade": ".sync",
    "ConsumerInner": ".inner",
    "ProducerInner": ".inner",
    "create_reply_message": ".request_reply",
    "ReplyMessage": ".request_reply",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
