"""rmqwire's client: a small RocketMQ producer built on :mod:`codec`.

``AsyncProducer`` runs on asyncio; ``Producer`` is its blocking facade for
scripts.  ``client.testing.LocalBroker`` is an embedded name server and
broker for tests and demos (imported on demand: the library never depends on
it).
"""

from codec.acl import Credentials

from .instance import ServiceState
from .producer import AsyncProducer, Message, MessageQueue, SendResult, SendStatus
from .sync import Producer

__all__ = [
    "AsyncProducer",
    "Producer",
    "Message",
    "MessageQueue",
    "SendResult",
    "SendStatus",
    "ServiceState",
    "Credentials",
]
