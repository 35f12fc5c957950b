"""A client instance's heartbeats and unregistrations.

Mirrors ``MQClientInstance.prepareHeartbeatData``,
``sendHeartbeatToAllBroker`` and ``unregisterClient`` with
``MQClientAPIImpl.sendHearbeat`` / ``unregisterClient``: one ``HeartbeatData``
naming every producer and consumer group of the instance, sent to every
broker address (masters only when there are no consumers), and
UNREGISTER_CLIENT to every address when a group leaves.  Each function is
the body of the :class:`~client.instance.ClientInstance` method of the same
name, which holds the state (broker table, members, the heartbeat lock).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .codec.body import MASTER_ID, ConsumerData, HeartbeatData, ProducerData
from .codec.enums import RequestCode, ResponseCode
from .codec.errors import CodecError, RemotingError
from .codec.headers import UnregisterClientRequestHeader

if TYPE_CHECKING:
    from .instance import ClientInstance

__all__ = ["heartbeat_data", "send_heartbeat_to_all_brokers", "unregister_client"]

log = logging.getLogger(__name__)


def heartbeat_data(instance: ClientInstance) -> HeartbeatData:
    """This client's ``HeartbeatData``: one ConsumerData per consumer
    group, one ProducerData per producer group (``prepareHeartbeatData``)."""
    consumers = tuple(
        ConsumerData(
            group_name=c.group_name,
            consume_type=c.consume_type.value,
            message_model=c.message_model.value,
            consume_from_where=c.consume_from_where.value,
            subscription_data_set=tuple(c.subscriptions()),
            unit_mode=c.unit_mode,
        )
        for c in list(instance.consumers.values())
    )
    return HeartbeatData(
        client_id=instance.client_id,
        producer_data_set=tuple(ProducerData(group) for group in instance.producers),
        consumer_data_set=consumers,
    )


async def send_heartbeat_to_all_brokers(instance: ClientInstance) -> int:
    """HEART_BEAT to every broker address: masters and slaves when there
    are consumers, masters only for producers (``sendHeartbeatToAllBroker``).
    Returns how many succeeded; failures are logged.

    Rounds do not overlap: one asked for while another runs waits for it
    and then sends (Java skips it instead; here a member that just
    registered must not have its first heartbeat dropped, or the broker
    would not know it until the next period)."""
    async with instance._heartbeat_lock:
        if (not instance.producers and not instance.consumers) or not instance.broker_addrs:
            return 0
        heartbeat = instance.heartbeat_data()
        masters_only = not heartbeat.consumer_data_set
        body = heartbeat.to_json()
        ok = 0
        for name, addrs in list(instance.broker_addrs.items()):
            for broker_id, addr in sorted(addrs.items()):
                if masters_only and broker_id != MASTER_ID:
                    continue
                cmd = instance.make_request(RequestCode.HEART_BEAT, None, body)
                try:
                    response = await instance.invoke(addr, cmd, instance.config.request_timeout)
                except (RemotingError, CodecError) as exc:
                    log.warning("heartbeat to %s %d (%s) failed: %s", name, broker_id, addr, exc)
                    continue
                if response.code == ResponseCode.SUCCESS:
                    ok += 1
                    instance._brokers.record_version(name, addr, response.version)
                else:
                    log.warning("heartbeat to %s (%s) answered %d %s", name, addr, response.code, response.remark)
        return ok


async def unregister_client(instance: ClientInstance, producer_group: str | None = None, consumer_group: str | None = None) -> None:
    """UNREGISTER_CLIENT for a producer and/or consumer group to every
    address of every broker, masters and slaves; errors are only logged,
    as in Java."""
    header = UnregisterClientRequestHeader(
        client_id=instance.client_id, producer_group=producer_group, consumer_group=consumer_group
    )
    ext = header.to_ext_fields()
    what = f"producer {producer_group}" if producer_group else f"consumer {consumer_group}"
    for name, addrs in list(instance.broker_addrs.items()):
        for addr in addrs.values():
            try:
                response = await instance.invoke(
                    addr, instance.make_request(RequestCode.UNREGISTER_CLIENT, ext), instance.config.request_timeout
                )
            except (RemotingError, CodecError) as exc:
                log.warning("unregister %s from %s (%s) failed: %s", what, name, addr, exc)
                continue
            if response.code != ResponseCode.SUCCESS:
                log.warning("unregister %s from %s answered %d %s", what, addr, response.code, response.remark)
