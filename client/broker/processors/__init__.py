"""The broker's and name server's request processors, one module per Java
processor class (CONSUMER_SEND_MSG_BACK apart from the sends); each
registers itself with a server's
:class:`~rmqwire.broker.processor.ProcessorRegistry`.
"""

from .admin import AdminBrokerProcessor
from .client_manage import ClientManageProcessor
from .consumer_admin import ConsumerAdminProcessor
from .consumer_manage import ConsumerManageProcessor
from .pull import PullMessageProcessor
from .reply import ReplyMessageProcessor
from .send import SendMessageProcessor
from .send_back import ConsumerSendMsgBackProcessor
from .transaction import EndTransactionProcessor

__all__ = [
    "AdminBrokerProcessor",
    "ClientManageProcessor",
    "ConsumerAdminProcessor",
    "ConsumerManageProcessor",
    "ConsumerSendMsgBackProcessor",
    "EndTransactionProcessor",
    "PullMessageProcessor",
    "ReplyMessageProcessor",
    "SendMessageProcessor",
]
