"""rmqwire's embedded name server and broker (``rmqwire.broker``).

A faithful, in-memory stand-in for a Java 4.9 name server and brokers, for
tests, benchmarks, the CLI and interop runs with real third-party clients.
Split by job, each module naming the Java class it mirrors:

* :mod:`.cluster`: :class:`EmbeddedCluster`, the name server + brokers + HTTP
  server and their lifecycle; where the broker's own requests to clients start;
* :mod:`.controller`: :class:`BrokerController`, one broker (``BrokerController``,
  ``Broker2Client``);
* :mod:`.namesrv`: the name server (``DefaultRequestProcessor``, ``RouteInfoManager``);
* :mod:`.processor`: the processor registry and what a processor gets
  (``NettyRequestProcessor``, ``registerProcessor``), :mod:`.processors`: the
  processors by Java class (send, client management, admin);
* :mod:`.dispatch`: the request pipeline (records, ACL, faults, processor);
* :mod:`.server`: sockets and one protocol object per connection over the
  sans-I/O :class:`~rmqwire.codec.ServerSession` (``NettyRemotingServer``);
* :mod:`.store`: the message store (``DefaultMessageStore``, ``ConsumeQueue``,
  ``getMessage`` and the ``CommitLog`` delay rewrite);
* :mod:`.schedule`: delayed delivery (``ScheduleMessageService``);
* :mod:`.long_polling`: held pulls (``PullRequestHoldService``);
* :mod:`.offsets`: consumer offsets (``ConsumerOffsetManager``);
* :mod:`.locks`: orderly consumers' queue locks (``RebalanceLockManager``);
* :mod:`.topics`: topic configs and auto-creation (``TopicConfigManager``);
* :mod:`.client_manager`: connections, producer and consumer groups
  (``ProducerManager``, ``ConsumerManager``);
* :mod:`.faults`, :mod:`.tls`, :mod:`.http`, :mod:`.runner`, :mod:`.config`,
  :mod:`.timer`.

``rmqwire.testing.LocalBroker`` is the facade most code wants.
"""

from .client_manager import ClientChannel, ClientInfo, ClientManager, ConsumerGroupInfo
from .cluster import EmbeddedCluster
from .config import CLUSTER_NAME, MAX_MESSAGE_SIZE, NAMESRV, SERVER_VERSION, ClusterConfig, RouteJson
from .controller import BrokerController
from .faults import Fault, FaultKind, FaultTable
from .locks import RebalanceLockTable
from .long_polling import HeldPull, PullHoldTable
from .namesrv import NamesrvController
from .offsets import ConsumerOffsetTable
from .processor import (
    Channel,
    DeferredReply,
    ProcessorRegistry,
    ProcessorResult,
    RequestContext,
    RequestProcessor,
    not_supported,
    reply,
)
from .runner import ThreadRunner
from .schedule import ScheduleMessageService
from .store import SCHEDULE_TOPIC, GetMessageResult, GetMessageStatus, MessageDraft, MessageStore, StoredMessage
from .tls import self_signed_tls
from .topics import TopicConfig, TopicTable

__all__ = [
    "EmbeddedCluster",
    "ClusterConfig",
    "BrokerController",
    "NamesrvController",
    # processors
    "ProcessorRegistry",
    "RequestProcessor",
    "ProcessorResult",
    "RequestContext",
    "DeferredReply",
    "Channel",
    "reply",
    "not_supported",
    # state
    "MessageStore",
    "MessageDraft",
    "StoredMessage",
    "GetMessageStatus",
    "GetMessageResult",
    "ScheduleMessageService",
    "PullHoldTable",
    "HeldPull",
    "ConsumerOffsetTable",
    "RebalanceLockTable",
    "TopicTable",
    "TopicConfig",
    "ClientManager",
    "ClientInfo",
    "ClientChannel",
    "ConsumerGroupInfo",
    # harness
    "Fault",
    "FaultKind",
    "FaultTable",
    "ThreadRunner",
    "self_signed_tls",
    # constants
    "NAMESRV",
    "CLUSTER_NAME",
    "SERVER_VERSION",
    "MAX_MESSAGE_SIZE",
    "SCHEDULE_TOPIC",
    "RouteJson",
]
