"""The GET_CONSUMER_LIST_BY_GROUP (38) response body: the client ids of a
consumer group, which a rebalance splits the queues among.

Mirrors ``org.apache.rocketmq.common.protocol.header.GetConsumerListByGroupResponseBody``
(a body, despite its package).  The broker keeps the order its channel table
gives; readers sort (``RebalanceImpl`` does).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._json import check_items, check_str, dumps, get_list, loads_object, str_item, to_text

__all__ = ["GetConsumerListByGroupResponseBody"]


@dataclass(frozen=True, slots=True)
class GetConsumerListByGroupResponseBody:
    """The group's client ids, in the broker's order."""

    consumer_id_list: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        """fastjson's shape: ``{"consumerIdList":[...]}``."""
        what = "GetConsumerListByGroupResponseBody.consumer_id_list"
        ids = [check_str(i, f"{what} item") for i in check_items(self.consumer_id_list, str, what)]
        return dumps({"consumerIdList": ids})

    @classmethod
    def from_json(cls, data: bytes) -> GetConsumerListByGroupResponseBody:
        """Parse the body; :class:`~codec.errors.MalformedBodyError` if it is not one."""
        what = "GetConsumerListByGroupResponseBody"
        obj = loads_object(to_text(data, what), what)
        return cls(get_list(obj, "consumerIdList", what, str_item))
