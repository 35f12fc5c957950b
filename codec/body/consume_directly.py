"""The CONSUME_MESSAGE_DIRECTLY (309) answer body: how a client's listener
handled the one message an operator asked it to consume.

Mirrors ``org.apache.rocketmq.common.protocol.body.ConsumeMessageDirectlyResult``
and ``CMResult`` (4.9.x), as fastjson writes them from the getters: keys
sorted, ``remark`` omitted when null, the enum by name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import MalformedBodyError
from ._json import INT64, check_bool, check_int, check_str, dumps, get_bool, get_int, get_opt_str, loads_object, to_text

__all__ = ["CMResult", "ConsumeMessageDirectlyResult"]


class CMResult(enum.Enum):
    """``CMResult``: the listener's outcome, by Java name."""

    CR_SUCCESS = "CR_SUCCESS"
    CR_LATER = "CR_LATER"
    CR_ROLLBACK = "CR_ROLLBACK"
    CR_COMMIT = "CR_COMMIT"
    CR_THROW_EXCEPTION = "CR_THROW_EXCEPTION"
    CR_RETURN_NULL = "CR_RETURN_NULL"


@dataclass(frozen=True, slots=True)
class ConsumeMessageDirectlyResult:
    """``order``: consumed by an orderly listener; ``auto_commit``: the
    orderly context's auto-commit; ``spent_time_mills`` (Java's spelling):
    how long the listener took; ``remark``: e.g. the exception's stack."""

    consume_result: CMResult | None = None
    order: bool = False
    auto_commit: bool = True
    remark: str | None = None
    spent_time_mills: int = 0

    def to_json(self) -> bytes:
        """fastjson's shape.  :class:`~codec.errors.EncodeError` for values of the wrong type."""
        what = "ConsumeMessageDirectlyResult"
        result = self.consume_result
        return dumps({
            "autoCommit": check_bool(self.auto_commit, f"{what}.auto_commit"),
            "consumeResult": None if result is None else check_str(CMResult(result).value, f"{what}.consume_result"),
            "order": check_bool(self.order, f"{what}.order"),
            "remark": None if self.remark is None else check_str(self.remark, f"{what}.remark"),
            "spentTimeMills": check_int(self.spent_time_mills, f"{what}.spent_time_mills", INT64),
        })

    @classmethod
    def from_json(cls, data: bytes) -> ConsumeMessageDirectlyResult:
        """Parse the body; :class:`~codec.errors.MalformedBodyError` if it is not one."""
        what = "ConsumeMessageDirectlyResult"
        obj = loads_object(to_text(data, what), what)
        name = get_opt_str(obj, "consumeResult", what)
        try:
            result = None if name is None else CMResult(name)
        except ValueError:
            raise MalformedBodyError(f"{what}: unknown consumeResult {name[:40]!r}") from None  # type: ignore[index]
        return cls(
            consume_result=result,
            order=get_bool(obj, "order", what),
            auto_commit=get_bool(obj, "autoCommit", what, default=True),
            remark=get_opt_str(obj, "remark", what),
            spent_time_mills=get_int(obj, "spentTimeMills", what, INT64, default=0),
        )
