"""Transactional messages, producer side: ``AsyncTransactionProducer`` and
its blocking facade ``TransactionProducer``.

Mirrors ``TransactionMQProducer`` and ``DefaultMQProducerImpl``'s
``sendMessageInTransaction`` / ``endTransaction`` / ``checkTransactionState``
with ``ClientRemotingProcessor.checkTransactionState``:

1. the message goes out as a *half* message: properties ``TRAN_MSG=true``
   and ``PGROUP=<group>``, sysFlag TRANSACTION_PREPARED (0x4), through the
   ordinary send path (route, queue selection, retries) of
   :class:`~rmqwire.producer.AsyncProducer`; the broker parks it where no
   consumer sees it;
2. the local transaction runs (``execute_local_transaction(msg, arg)``);
3. END_TRANSACTION (37), oneway, to the broker that stored the half
   message: ``commitOrRollback`` COMMIT (0x8), ROLLBACK (0xC) or NOT_TYPE
   (0) for UNKNOW, naming the half message by its commit-log offset (from
   the offset message id) and queue offset;
4. for a transaction left UNKNOW (or whose END was lost) the broker later
   sends CHECK_TRANSACTION_STATE (39, oneway, the half message in the body);
   the client instance hands it to the producer of the message's group,
   which asks ``check_local_transaction(msg_ext)`` and answers with another
   END_TRANSACTION, ``fromTransactionCheck=true``.

A callback may be a coroutine function (awaited on the event loop) or a
plain function, which runs in the loop's default executor so that a
blocking one (a database query) never stalls the loop, the heartbeats or
other sends.  A callback that raises counts as UNKNOW and is logged, as in
Java; the broker asks again later.

Where it knowingly differs from Java: a message with a delay level is
refused (Java drops the delay silently); a check-back for a group this
process has no transaction producer for is ignored (as Java) and logged at
debug level.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from typing import Any, Final, TypeAlias

from .codec.command import RemotingCommand
from .codec.enums import RequestCode
from .codec.errors import CodecError, ConfigError, InvalidMessageError, NoRouteError, RocketMQError
from .codec.headers import CheckTransactionStateRequestHeader, EndTransactionRequestHeader
from .codec.message import (
    PROPERTY_DELAY_TIME_LEVEL,
    PROPERTY_KEYS,
    PROPERTY_PRODUCER_GROUP,
    PROPERTY_TAGS,
    PROPERTY_WAIT_STORE_MSG_OK,
    PROPERTY_TRANSACTION_PREPARED,
    PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    MessageSysFlag,
    decode_properties,
    encode_properties,
    parse_offset_msg_id,
)
from .codec.store import MessageExt, decode_message
from .instance import ClientInstance, ServiceState
from .producer import AsyncProducer
from .sync import BlockingFacade, Producer
from .types import LocalTransactionState, Message, SendResult, SendStatus

__all__ = [
    "AsyncTransactionProducer",
    "TransactionProducer",
    "TransactionSendResult",
    "LocalTransactionState",
    "LocalTransactionExecutor",
    "LocalTransactionChecker",
    "end_transaction_type",
    "check_transaction_state_processor",
]

log = logging.getLogger(__name__)

#: ``execute_local_transaction(msg, arg)``: plain or ``async``.
LocalTransactionExecutor: TypeAlias = Callable[[Message, Any], "LocalTransactionState | Awaitable[LocalTransactionState]"]
#: ``check_local_transaction(msg_ext)``: plain or ``async``.
LocalTransactionChecker: TypeAlias = Callable[[MessageExt], "LocalTransactionState | Awaitable[LocalTransactionState]"]

_PREPARED: Final = int(MessageSysFlag.TRANSACTION_PREPARED_TYPE)
# properties a Message holds as fields of its own
_FIELD_PROPERTIES: Final = frozenset({PROPERTY_TAGS, PROPERTY_KEYS, PROPERTY_WAIT_STORE_MSG_OK, PROPERTY_DELAY_TIME_LEVEL})
_END_TYPES: Final = {
    LocalTransactionState.COMMIT_MESSAGE: int(MessageSysFlag.TRANSACTION_COMMIT_TYPE),
    LocalTransactionState.ROLLBACK_MESSAGE: int(MessageSysFlag.TRANSACTION_ROLLBACK_TYPE),
    LocalTransactionState.UNKNOW: int(MessageSysFlag.TRANSACTION_NOT_TYPE),
}


def end_transaction_type(state: LocalTransactionState) -> int:
    """The ``commitOrRollback`` of END_TRANSACTION for ``state``: COMMIT
    0x8, ROLLBACK 0xC, NOT_TYPE 0 (UNKNOW)."""
    return _END_TYPES[state]


@dataclass(frozen=True, slots=True)
class TransactionSendResult(SendResult):
    """Java ``TransactionSendResult``: the half message's :class:`SendResult`
    and what the local transaction decided.  ``msg_id`` (the ``UNIQ_KEY``)
    is the transaction id the checker sees again as ``msg_ext.msg_id``."""

    local_transaction_state: LocalTransactionState = LocalTransactionState.UNKNOW


def _describe(exc: BaseException) -> str:
    """``RemotingHelper.exceptionSimpleDesc``-like: the class and the message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _as_state(value: object, what: str) -> LocalTransactionState:
    if isinstance(value, LocalTransactionState):
        return value
    if value is not None:
        log.warning("%s returned %r, not a LocalTransactionState: treated as UNKNOW", what, value)
    return LocalTransactionState.UNKNOW


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Await a coroutine function; run a plain one in the loop's default
    executor (it may block); await what it returns if that is awaitable."""
    if inspect.iscoroutinefunction(fn):
        result = await fn(*args)
    else:
        result = await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args))
        if inspect.isawaitable(result):
            result = await result
    return result


class AsyncTransactionProducer(AsyncProducer):
    """A producer of transactional messages (Java ``TransactionMQProducer``).

    ::

        def execute(msg, arg):          # or: async def execute(msg, arg)
            db.insert_order(arg, tx_id=msg.properties["UNIQ_KEY"])
            return LocalTransactionState.COMMIT_MESSAGE

        def check(msg_ext):             # the broker asks about an unended one
            found = db.order_with_tx(msg_ext.msg_id)
            return LocalTransactionState.COMMIT_MESSAGE if found else LocalTransactionState.ROLLBACK_MESSAGE

        async with AsyncTransactionProducer(
            "tx-group", namesrv_addr="127.0.0.1:9876",
            execute_local_transaction=execute, check_local_transaction=check,
        ) as producer:
            result = await producer.send_in_transaction(Message("Orders", b"..."), arg=order)
            print(result.local_transaction_state)

    Every other option is :class:`AsyncProducer`'s (``namespace`` too:
    ``PGROUP`` names the wire group, the checker sees the bare topic);
    ordinary sends work too.
    """

    def __init__(
        self,
        group: str,
        *,
        execute_local_transaction: LocalTransactionExecutor,
        check_local_transaction: LocalTransactionChecker,
        **options: Any,
    ) -> None:
        if not callable(execute_local_transaction):
            raise ConfigError("execute_local_transaction must be callable: fn(msg, arg) -> LocalTransactionState")
        if not callable(check_local_transaction):
            raise ConfigError("check_local_transaction must be callable: fn(msg_ext) -> LocalTransactionState")
        super().__init__(group, **options)
        self.execute_local_transaction = execute_local_transaction
        self.check_local_transaction = check_local_transaction
        self._checks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return super().__repr__().replace("AsyncProducer", "AsyncTransactionProducer", 1)

    # -- lifecycle
    async def start(self) -> None:
        """Start (see :meth:`AsyncProducer.start`) and answer the brokers'
        CHECK_TRANSACTION_STATE through the client instance from now on."""
        await super().start()
        instance = self.instance
        instance.register_processor(RequestCode.CHECK_TRANSACTION_STATE, check_transaction_state_processor(instance))

    async def shutdown(self) -> None:
        """Shut down (see :meth:`AsyncProducer.shutdown`).  Check-backs under
        way are abandoned: the broker asks again later (a plain checker
        already running in its thread finishes there, unanswered)."""
        checks = list(self._checks)
        for task in checks:
            task.cancel()
        if checks:
            await asyncio.gather(*checks, return_exceptions=True)
        await super().shutdown()

    # -- sending
    async def send_in_transaction(self, msg: Message, arg: Any = None, *, timeout: float | None = None) -> TransactionSendResult:
        """Send ``msg`` as a half message, run the local transaction with
        ``(msg, arg)`` and end the transaction on the broker with what it
        returned (``sendMessageInTransaction``).

        ``msg`` given to the local transaction is the message as sent: its
        ``properties`` also hold ``TRAN_MSG``, ``PGROUP`` and ``UNIQ_KEY``
        (the transaction id).  A send that fails raises and runs nothing; a
        local transaction that raises or returns something else than a
        :class:`LocalTransactionState` ends it as UNKNOW (the broker checks
        back later); a stored send whose status is not SEND_OK (a slave or
        a flush timed out) is rolled back without running it, as Java does.
        A failure to send END_TRANSACTION is logged, not raised: the broker
        checks back.
        """
        self._check_running()
        if msg.delay_level:
            raise InvalidMessageError("a transactional message cannot have a delay level")
        result, props = await self._send_half(msg, timeout)
        state = LocalTransactionState.UNKNOW
        error: BaseException | None = None
        if result.status is SendStatus.SEND_OK:
            sent = _with_properties(msg, props)
            try:
                state = _as_state(await _call(self.execute_local_transaction, sent, arg), "execute_local_transaction")
            except Exception as exc:
                log.warning("local transaction of %s raised; ending it as UNKNOW: %s", result.msg_id, exc, exc_info=True)
                error = exc
        else:
            state = LocalTransactionState.ROLLBACK_MESSAGE
        try:
            await self._end_transaction(result, state, error)
        except RocketMQError as exc:
            log.warning("local transaction of %s is %s, but ending it on the broker failed: %s", result.msg_id, state.value, exc)
        return TransactionSendResult(
            **{f.name: getattr(result, f.name) for f in fields(SendResult)}, local_transaction_state=state
        )

    async def _send_half(self, msg: Message, timeout: float | None) -> tuple[SendResult, dict[str, str]]:
        """The half message through the producer's send path: ``TRAN_MSG``
        and ``PGROUP`` added, sysFlag PREPARED (``sendKernelImpl``).
        Returns the result and the properties it went out with."""
        request = self._single(msg, oneway=False, queue=None, selector=None, arg=None)
        props = decode_properties(request.properties)
        props[PROPERTY_TRANSACTION_PREPARED] = "true"
        props[PROPERTY_PRODUCER_GROUP] = self.group
        request = replace(request, properties=encode_properties(props), sys_flag=request.sys_flag | _PREPARED)
        result = await self._send(request, timeout)
        assert result is not None
        return result, props

    async def _end_transaction(self, result: SendResult, state: LocalTransactionState, error: BaseException | None) -> None:
        """``endTransaction``: END_TRANSACTION, oneway, to the broker of the half message."""
        broker_name = result.message_queue.broker_name
        _, _, commit_log_offset = parse_offset_msg_id(result.offset_msg_id)
        header = EndTransactionRequestHeader(
            producer_group=self.group,
            tran_state_table_offset=result.queue_offset,
            commit_log_offset=commit_log_offset,
            commit_or_rollback=end_transaction_type(state),
            from_transaction_check=False,
            msg_id=result.msg_id,
            transaction_id=result.transaction_id,
            broker_name=broker_name,
        )
        remark = f"executeLocalTransactionBranch exception: {_describe(error)}" if error is not None else None
        instance = self.instance
        addr = instance.master_addr(broker_name)
        if addr is None:
            raise NoRouteError(f"The broker[{broker_name}] not exist")
        cmd = instance.make_request(RequestCode.END_TRANSACTION, header.to_ext_fields(), oneway=True)
        if remark is not None:
            cmd = replace(cmd, remark=remark)
        await instance.invoke_oneway(addr, cmd, self._opts.send_timeout)

    # -- check-back
    def _on_check(self, addr: str, msg: MessageExt, header: CheckTransactionStateRequestHeader) -> None:
        """``checkTransactionState``: ask the checker off the request path
        (Java's check executor), then answer the broker."""
        if self.state is not ServiceState.RUNNING:
            log.debug("check of transaction %s from %s ignored: the producer is %s", msg.msg_id, addr, self.state.value)
            return
        task = asyncio.get_running_loop().create_task(self._answer_check(addr, msg, header))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _answer_check(self, addr: str, msg: MessageExt, header: CheckTransactionStateRequestHeader) -> None:
        state = LocalTransactionState.UNKNOW
        error: BaseException | None = None
        try:
            # the checker sees the bare topic (ClientRemotingProcessor.checkTransactionState)
            shown = self._ns.unwrap_message(msg)
            state = _as_state(await _call(self.check_local_transaction, shown), "check_local_transaction")
        except Exception as exc:
            log.error("check_local_transaction raised for %s; answering UNKNOW: %s", msg.msg_id, exc, exc_info=True)
            error = exc
        if state is not LocalTransactionState.COMMIT_MESSAGE:
            log.warning("broker %s checked transaction %s: the checker says %s", addr, msg.msg_id, state.value)
        uniq = msg.properties.get(PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX) or msg.msg_id
        end = EndTransactionRequestHeader(
            producer_group=self.group,
            tran_state_table_offset=header.tran_state_table_offset,
            commit_log_offset=header.commit_log_offset,
            commit_or_rollback=end_transaction_type(state),
            from_transaction_check=True,
            msg_id=uniq,
            transaction_id=header.transaction_id,
            broker_name=header.broker_name,
        )
        instance = self.instance
        cmd = instance.make_request(RequestCode.END_TRANSACTION, end.to_ext_fields(), oneway=True)
        if error is not None:
            cmd = replace(cmd, remark=f"checkLocalTransactionState Exception: {_describe(error)}")
        try:
            await instance.invoke_oneway(addr, cmd, 3.0)
        except RocketMQError as exc:
            log.error("answering the check of transaction %s to %s failed: %s", msg.msg_id, addr, exc)


class TransactionProducer(Producer):
    """The blocking :class:`AsyncTransactionProducer`; same options.

    ::

        with TransactionProducer(
            "tx-group", namesrv_addr="127.0.0.1:9876",
            execute_local_transaction=execute, check_local_transaction=check,
        ) as producer:
            result = producer.send_in_transaction(Message("Orders", b"..."), order)

    The callbacks run in the event loop's executor threads (or on the loop,
    for coroutine functions), never in the thread that called
    :meth:`send_in_transaction`.
    """

    def __init__(
        self,
        group: str,
        *,
        execute_local_transaction: LocalTransactionExecutor,
        check_local_transaction: LocalTransactionChecker,
        **options: Any,
    ) -> None:
        self._tx = AsyncTransactionProducer(
            group,
            execute_local_transaction=execute_local_transaction,
            check_local_transaction=check_local_transaction,
            **options,
        )
        BlockingFacade.__init__(self, self._tx)

    def __repr__(self) -> str:
        return repr(self._tx).replace("AsyncTransactionProducer", "TransactionProducer", 1)

    @property
    def async_producer(self) -> AsyncTransactionProducer:
        """The async core (for inspection; call it only from its own loop)."""
        return self._tx

    def send_in_transaction(self, msg: Message, arg: Any = None, *, timeout: float | None = None) -> TransactionSendResult:
        """Send in a transaction and wait for the outcome (see
        :meth:`AsyncTransactionProducer.send_in_transaction`).  No backstop
        timeout: the local transaction takes as long as it takes."""
        return self._run(self._tx.send_in_transaction(msg, arg, timeout=timeout), None, "send_in_transaction")


def _with_properties(msg: Message, props: dict[str, str]) -> Message:
    """``msg`` with the properties it went out with (user and system ones)."""
    return Message(
        msg.topic,
        msg.body,
        tags=msg.tags,
        keys=msg.keys,
        properties={**(msg.properties or {}), **{k: v for k, v in props.items() if k not in _FIELD_PROPERTIES}},
        delay_level=msg.delay_level,
        flag=msg.flag,
        wait_store_msg_ok=msg.wait_store_msg_ok,
    )


def check_transaction_state_processor(
    instance: ClientInstance,
) -> Callable[[RemotingCommand, str], Awaitable[RemotingCommand | None]]:
    """The client instance's processor of CHECK_TRANSACTION_STATE
    (``ClientRemotingProcessor.checkTransactionState``): decode the header
    and the half message, find the instance's producer of the message's
    group and let it answer.  The request is oneway: nothing is returned."""

    async def check_transaction_state(cmd: RemotingCommand, addr: str) -> RemotingCommand | None:
        try:
            header = CheckTransactionStateRequestHeader.from_command(cmd)
            msg, _ = decode_message(cmd.body)
        except CodecError as exc:
            log.warning("CHECK_TRANSACTION_STATE from %s does not decode: %s", addr, exc)
            return None
        group = msg.properties.get(PROPERTY_PRODUCER_GROUP)
        if group is None:
            log.warning("CHECK_TRANSACTION_STATE from %s: the message names no producer group", addr)
            return None
        producer = instance.producers.get(group)
        if not isinstance(producer, AsyncTransactionProducer):
            log.debug("CHECK_TRANSACTION_STATE from %s for group %s: no transaction producer here", addr, group)
            return None
        producer._on_check(addr, msg, header)
        return None

    return check_transaction_state
