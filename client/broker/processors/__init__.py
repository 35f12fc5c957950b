"""The broker's and name server's request processors, one module per Java
processor class; each registers itself with a server's
:class:`~rmqwire.broker.processor.ProcessorRegistry`.
"""

from .admin import AdminBrokerProcessor
from .client_manage import ClientManageProcessor
from .send import SendMessageProcessor
from .transaction import EndTransactionProcessor

__all__ = ["AdminBrokerProcessor", "ClientManageProcessor", "EndTransactionProcessor", "SendMessageProcessor"]
