"""The broker's and name server's request processors, one module per Java
processor class; each registers itself with a server's
:class:`~rmqwire.broker.processor.ProcessorRegistry`.
"""

from .admin import AdminBrokerProcessor
from .client_manage import ClientManageProcessor
from .reply import ReplyMessageProcessor
from .send import SendMessageProcessor

__all__ = ["AdminBrokerProcessor", "ClientManageProcessor", "ReplyMessageProcessor", "SendMessageProcessor"]
