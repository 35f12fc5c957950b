"""The embedded name server: routes and cluster info.

Mirrors ``NamesrvController`` with ``DefaultRequestProcessor`` and
``RouteInfoManager.pickupTopicRouteData`` / ``getAllClusterInfo``.  A Java
name server learns topics from brokers' registrations; this one reads the
cluster's :class:`~.topics.TopicTable` directly, so a topic (including one
just auto-created from ``TBW102``) is routable at once.

Route bodies are fastjson's legacy form (unquoted integer map keys) or
standard JSON: ``route_json="auto"`` answers standard JSON when the
request's version is at least ``V4_9_4`` or it asks with
``acceptStandardJsonOnly=true``, as a 4.9.4+ name server does.

Where it knowingly differs from Java: codes it does not know are answered
REQUEST_CODE_NOT_SUPPORTED (a Java name server answers nothing at all,
which leaves a client waiting for its timeout); brokers never leave routes
(a stopped broker stays in them, as it does for the 120 s a Java name
server takes to notice).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ..codec.body import BrokerData, QueueData, TopicRouteData
from ..codec.command import RemotingCommand
from ..codec.enums import RequestCode, ResponseCode
from ..codec.headers import GetRouteInfoRequestHeader
from .config import CLUSTER_NAME, FAQ_SUFFIX, NAMESRV, SERVER_VERSION, ClusterConfig
from .dispatch import Dispatcher, RequestPipeline
from .processor import ProcessorRegistry, RequestContext, reply
from .server import RemotingListener, TaskSet
from .topics import TopicTable

__all__ = ["NamesrvController"]


class NamesrvController:
    """The name server of one embedded cluster.

    ``broker_addrs()`` gives broker name -> ``host:port`` of the brokers,
    read at each request (ports are bound at start).
    """

    def __init__(
        self,
        config: ClusterConfig,
        topics: TopicTable,
        broker_addrs: Callable[[], dict[str, str]],
        *,
        pipeline: RequestPipeline,
        tasks: TaskSet,
    ) -> None:
        self.config = config
        self.topics = topics
        self._broker_addrs = broker_addrs
        self.registry = ProcessorRegistry()
        self.registry.register(RequestCode.GET_ROUTEINFO_BY_TOPIC, self.get_route_info_by_topic)
        self.registry.register(RequestCode.GET_BROKER_CLUSTER_INFO, self.get_broker_cluster_info)
        self.dispatcher = Dispatcher("namesrv", NAMESRV, self.registry, pipeline)
        self.listener = RemotingListener(
            NAMESRV,
            config.namesrv_port,
            self.dispatcher,
            tasks=tasks,
            max_frame_size=config.max_frame_size,
            max_buffered_bytes=config.max_buffered_bytes,
            idle_timeout=config.idle_timeout,
        )

    # ------------------------------------------------------------------ processors

    def get_route_info_by_topic(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        header = GetRouteInfoRequestHeader.from_command(cmd)
        route = self.route(header.topic)
        if route is None:
            return reply(
                cmd,
                ResponseCode.TOPIC_NOT_EXIST,
                f"No topic route info in name server for the topic: {header.topic}{FAQ_SUFFIX}",
            )
        return reply(cmd, ResponseCode.SUCCESS, body=route.to_json(standard=self.standard_json(cmd)))

    def get_broker_cluster_info(self, cmd: RemotingCommand, ctx: RequestContext) -> RemotingCommand:
        return reply(cmd, ResponseCode.SUCCESS, body=self.cluster_info())

    # ------------------------------------------------------------------ tables

    def standard_json(self, cmd: RemotingCommand) -> bool:
        """Whether the route answer to ``cmd`` is standard JSON."""
        policy = self.config.route_json
        if policy != "auto":
            return policy == "standard"
        accept = cmd.ext_fields.get("acceptStandardJsonOnly")
        return cmd.version >= SERVER_VERSION or (isinstance(accept, str) and accept.lower() == "true")

    def route(self, topic: str) -> TopicRouteData | None:
        """``pickupTopicRouteData``: the topic's queues on every broker that has it."""
        with_topic = self.topics.with_topic(topic)
        if not with_topic:
            return None
        addrs = self._broker_addrs()
        return TopicRouteData(
            queue_datas=tuple(
                QueueData(
                    broker_name=name,
                    read_queue_nums=config.read_queue_nums,
                    write_queue_nums=config.write_queue_nums,
                    perm=config.perm,
                    topic_sys_flag=config.topic_sys_flag,
                )
                for name, config in with_topic
            ),
            broker_datas=tuple(
                BrokerData(cluster=CLUSTER_NAME, broker_name=name, broker_addrs={0: addrs[name]})
                for name, _ in with_topic
            ),
        )

    def cluster_info(self) -> bytes:
        """``ClusterInfo.encode()``: always fastjson's legacy form, keys sorted."""
        addrs = self._broker_addrs()
        tables = ",".join(
            f"{json.dumps(name)}:{{\"brokerAddrs\":{{0:{json.dumps(addr)}}},"
            f"\"brokerName\":{json.dumps(name)},\"cluster\":{json.dumps(CLUSTER_NAME)}}}"
            for name, addr in sorted(addrs.items())
        )
        names = ",".join(json.dumps(name) for name in sorted(addrs))
        return f'{{"brokerAddrTable":{{{tables}}},"clusterAddrTable":{{"{CLUSTER_NAME}":[{names}]}}}}'.encode()
