"""The consumer's requests to brokers, over a client instance.

Mirrors the consumer half of Java's ``MQClientAPIImpl`` and ``MQAdminImpl``
(consumer-protocol.md sections 3, 6 and 7): QUERY/UPDATE_CONSUMER_OFFSET,
GET_MAX/MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP, GET_CONSUMER_LIST_BY_GROUP and
CONSUMER_SEND_MSG_BACK, each sent to the right broker address
(``findBrokerAddressInSubscribe``: the master unless told otherwise,
refreshing the topic's route once when the broker is not known yet).

:class:`ConsumerApi` is what the offset store
(:class:`~.offset_store.OffsetBrokerApi`) and the rebalance
(:class:`~.rebalance.RebalanceApi`) are given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
import time
from typing import TYPE_CHECKING

from ..codec.body import GetConsumerListByGroupResponseBody
from ..codec.command import RemotingCommand
from ..codec.enums import RequestCode, ResponseCode
from ..codec.errors import BrokerError, CodecError, NoRouteError, RemotingError
from ..codec.headers import (
    ConsumerSendMsgBackRequestHeader,
    GetConsumerListByGroupRequestHeader,
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
from ..codec.headers import SendMessageRequestHeader
from ..codec.message import CLIENT_INNER_PRODUCER_GROUP, encode_properties
from ..route import publish_info_from_route
from ..types import MessageQueue

if TYPE_CHECKING:
    from ..codec.store import MessageExt
    from ..instance import ClientInstance, FindBrokerResult

__all__ = ["ConsumerApi", "MASTER_ID", "SEND_BACK_TIMEOUT"]

log = logging.getLogger(__name__)

MASTER_ID = 0
PROPERTY_ORIGIN_MESSAGE_ID = "ORIGIN_MESSAGE_ID"
PROPERTY_RETRY_TOPIC = "RETRY_TOPIC"
PROPERTY_DELAY = "DELAY"
PROPERTY_TRANSACTION_PREPARED = "TRAN_MSG"
#: Java's timeout of CONSUMER_SEND_MSG_BACK (5000 ms)
SEND_BACK_TIMEOUT = 5.0


class ConsumerApi:
    """Consumer requests of one group through ``instance``."""

    def __init__(self, instance: ClientInstance, group: str, *, timeout: float | None = None) -> None:
        self.instance = instance
        self.group = group
        self.timeout = timeout if timeout is not None else instance.config.request_timeout

    # -- addresses
    async def find_broker(self, mq: MessageQueue, broker_id: int = MASTER_ID, only_this_broker: bool = False) -> FindBrokerResult:
        """Where to ask about ``mq`` (``findBrokerAddressInSubscribe``),
        refreshing ``mq.topic``'s route once when the broker is not known."""
        found = self.instance.find_broker_address_in_subscribe(mq.broker_name, broker_id, only_this_broker)
        if found is None:
            await self.instance.update_route(mq.topic)
            found = self.instance.find_broker_address_in_subscribe(mq.broker_name, broker_id, only_this_broker)
        if found is None:
            raise NoRouteError(f"The broker[{mq.broker_name}] not exist")
        return found

    async def master_addr(self, mq: MessageQueue) -> str:
        """``findBrokerAddressInPublish``, refreshing the route once."""
        return (await self.find_broker(mq, MASTER_ID, True)).addr

    async def _call(self, addr: str, code: int, ext: dict[str, str], timeout: float | None = None) -> RemotingCommand:
        cmd = self.instance.make_request(code, ext)
        return await self.instance.invoke(addr, cmd, timeout or self.timeout)

    # -- offsets
    async def query_consumer_offset(self, mq: MessageQueue, group: str) -> int:
        """QUERY_CONSUMER_OFFSET; a non-SUCCESS code raises :class:`BrokerError`."""
        broker = await self.find_broker(mq)
        header = QueryConsumerOffsetRequestHeader(
            consumer_group=group, topic=mq.topic, queue_id=mq.queue_id, broker_name=mq.broker_name
        )
        response = await self._call(broker.addr, RequestCode.QUERY_CONSUMER_OFFSET, header.to_ext_fields())
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, broker.addr)
        return QueryConsumerOffsetResponseHeader.from_command(response).offset

    async def update_consumer_offset(self, mq: MessageQueue, group: str, offset: int, *, oneway: bool) -> None:
        """UPDATE_CONSUMER_OFFSET to the queue's master (oneway as ``persistAll``)."""
        broker = await self.find_broker(mq)
        header = UpdateConsumerOffsetRequestHeader(
            consumer_group=group, topic=mq.topic, queue_id=mq.queue_id, commit_offset=offset,
            broker_name=mq.broker_name,
        )
        if oneway:
            cmd = self.instance.make_request(RequestCode.UPDATE_CONSUMER_OFFSET, header.to_ext_fields(), oneway=True)
            await self.instance.invoke_oneway(broker.addr, cmd, self.timeout)
            return
        response = await self._call(broker.addr, RequestCode.UPDATE_CONSUMER_OFFSET, header.to_ext_fields())
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, broker.addr)

    async def _offset(
        self, mq: MessageQueue, code: int, ext: dict[str, str], read: Callable[[RemotingCommand], int]
    ) -> int:
        addr = await self.master_addr(mq)
        response = await self._call(addr, code, ext)
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, addr)
        return read(response)

    async def max_offset(self, mq: MessageQueue) -> int:
        """GET_MAX_OFFSET: one past the queue's last message."""
        header = GetMaxOffsetRequestHeader(topic=mq.topic, queue_id=mq.queue_id, broker_name=mq.broker_name)
        return await self._offset(mq, RequestCode.GET_MAX_OFFSET, header.to_ext_fields(), lambda r: GetMaxOffsetResponseHeader.from_command(r).offset)

    async def min_offset(self, mq: MessageQueue) -> int:
        """GET_MIN_OFFSET."""
        header = GetMinOffsetRequestHeader(topic=mq.topic, queue_id=mq.queue_id, broker_name=mq.broker_name)
        return await self._offset(mq, RequestCode.GET_MIN_OFFSET, header.to_ext_fields(), lambda r: GetMinOffsetResponseHeader.from_command(r).offset)

    async def search_offset(self, mq: MessageQueue, timestamp_ms: int) -> int:
        """SEARCH_OFFSET_BY_TIMESTAMP: the first offset stored at or after ``timestamp_ms``."""
        header = SearchOffsetRequestHeader(
            topic=mq.topic, queue_id=mq.queue_id, timestamp=timestamp_ms, broker_name=mq.broker_name
        )
        return await self._offset(
            mq, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, header.to_ext_fields(),
            lambda r: SearchOffsetResponseHeader.from_command(r).offset,
        )

    # -- group membership
    async def find_consumer_id_list(self, topic: str, group: str) -> list[str] | None:
        """GET_CONSUMER_LIST_BY_GROUP from one broker of ``topic`` (a random
        one, as ``findBrokerAddrByTopic``); None when none can answer."""
        addr = self.instance.find_broker_addr_by_topic(topic)
        if addr is None:
            try:
                await self.instance.update_route(topic)
            except (RemotingError, BrokerError, CodecError) as exc:
                log.warning("route of %s: %s", topic, exc)
            addr = self.instance.find_broker_addr_by_topic(topic)
        if addr is None:
            return None
        header = GetConsumerListByGroupRequestHeader(consumer_group=group)
        try:
            response = await self._call(addr, RequestCode.GET_CONSUMER_LIST_BY_GROUP, header.to_ext_fields())
        except RemotingError as exc:
            log.warning("consumer list of %s from %s: %s", group, addr, exc)
            return None
        if response.code != ResponseCode.SUCCESS or not response.body:
            log.warning("consumer list of %s from %s answered %d %s", group, addr, response.code, response.remark)
            return None
        try:
            return list(GetConsumerListByGroupResponseBody.from_json(response.body).consumer_id_list)
        except CodecError as exc:
            log.warning("consumer list of %s from %s: %s", group, addr, exc)
            return None

    # -- retries
    async def send_message_back(
        self, msg: MessageExt, broker_name: str | None, delay_level: int, max_reconsume_times: int
    ) -> None:
        """CONSUMER_SEND_MSG_BACK to ``broker_name``'s master (else the message's
        store host); raises on anything but SUCCESS."""
        addr: str | None = None
        if broker_name:
            addr = self.instance.find_broker_address_in_publish(broker_name)
        if addr is None:
            addr = msg.store_host
        header = ConsumerSendMsgBackRequestHeader(
            offset=msg.commit_log_offset,
            group=self.group,
            delay_level=delay_level,
            origin_msg_id=msg.msg_id,
            origin_topic=msg.topic,
            unit_mode=False,
            max_reconsume_times=max_reconsume_times,
            broker_name=broker_name,
        )
        response = await self._call(addr, RequestCode.CONSUMER_SEND_MSG_BACK, header.to_ext_fields(), SEND_BACK_TIMEOUT)
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, addr)

    async def resend_to_retry_topic(self, msg: MessageExt, max_reconsume_times: int) -> None:
        """Java's fallback when CONSUMER_SEND_MSG_BACK fails: send a copy to
        ``%RETRY%<group>`` as the inner producer (``CLIENT_INNER_PRODUCER``)
        with delay level 3 + reconsume times and ``reconsume_times + 1``."""
        retry = "%RETRY%" + self.group
        props = dict(msg.properties)
        props.setdefault(PROPERTY_ORIGIN_MESSAGE_ID, msg.msg_id)
        props[PROPERTY_RETRY_TOPIC] = msg.topic
        props[PROPERTY_DELAY] = str(3 + msg.reconsume_times)
        props.pop(PROPERTY_TRANSACTION_PREPARED, None)
        route = self.instance.topic_routes.get(retry) or await self.instance.update_route(retry)
        if route is None:
            raise NoRouteError(f"No route info of this topic: {retry}")
        info = publish_info_from_route(retry, route)
        if not info.ok:
            raise NoRouteError(f"No route info of this topic: {retry}")
        mq = info.select_queue()
        addr = self.instance.master_addr(mq.broker_name)
        if addr is None:
            raise NoRouteError(f"The broker[{mq.broker_name}] not exist")
        header = SendMessageRequestHeader(
            producer_group=CLIENT_INNER_PRODUCER_GROUP,
            topic=retry,
            default_topic="TBW102",
            default_topic_queue_nums=4,
            queue_id=mq.queue_id,
            sys_flag=0,
            born_timestamp=int(time.time() * 1000),
            flag=msg.flag,
            properties=encode_properties(props),
            reconsume_times=msg.reconsume_times + 1,
            unit_mode=False,
            max_reconsume_times=max_reconsume_times,
            broker_name=mq.broker_name,
        )
        cmd = self.instance.make_request(header.request_code(True), header.to_ext_fields(True), msg.body)
        response = await self.instance.invoke(addr, cmd, SEND_BACK_TIMEOUT)
        if response.code != ResponseCode.SUCCESS:
            raise BrokerError.for_code(response.code, response.remark, addr)
