"""ClientSession and ServerSession: opaque assignment, response matching,
timeouts and connection loss, following protocol.md section 3 (flags and
opaque) and Java's NettyRemotingAbstract response table, from both ends of
a connection; and the shared BufferBudget that bounds what a server's
sessions hold.  Time is always passed in; nothing here sleeps.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rmqwire.codec.session
from rmqwire import codec
from rmqwire.codec import (
    ClientError,
    CodecError,
    ConfigError,
    ConnectionClosedError,
    EncodeError,
    FrameError,
    RemotingCommand,
    RequestTimeoutError,
    SerializeType,
    decode,
    encode,
)
from rmqwire.codec.session import (
    MAX_OPAQUE,
    BufferBudget,
    ClientSession,
    RemotingSession,
    RequestFailed,
    RequestReceived,
    RequestTimedOut,
    ResponseReceived,
    ServerSession,
    UnmatchedResponse,
)

ROUTE = 105
SEND = 310
CHECK_TRANSACTION_STATE = 39


def request(code: int = ROUTE, *, oneway: bool = False, topic: str = "T") -> RemotingCommand:
    return RemotingCommand.request(code, {"topic": topic}, oneway=oneway)


def response_frame(opaque: int, code: int = 0, **ext: str) -> bytes:
    return encode(RemotingCommand.response(code, opaque, ext_fields=ext))


# --------------------------------------------------------------------------- opaques


def test_opaques_start_at_zero_and_increase() -> None:
    session = ClientSession()
    opaques = [session.send_request(request(), now=0, timeout=3)[0] for _ in range(3)]
    assert opaques == [0, 1, 2]


def test_the_frame_carries_the_assigned_opaque() -> None:
    session = ClientSession(first_opaque=41)
    opaque, frame = session.send_request(request(topic="GoldenTopic"), now=0, timeout=3)
    sent = decode(frame)
    assert (opaque, sent.opaque, sent.code, sent.ext_fields) == (41, 41, ROUTE, {"topic": "GoldenTopic"})


def test_opaques_wrap_from_int32_max_to_zero() -> None:
    session = ClientSession(first_opaque=MAX_OPAQUE)
    opaques = [session.send_request(request(), now=0, timeout=3)[0] for _ in range(2)]
    assert opaques == [2**31 - 1, 0]


def test_opaques_skip_values_still_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    # A four-value opaque space instead of sending 2**31 requests.
    monkeypatch.setattr(codec.session, "MAX_OPAQUE", 3)
    session = ClientSession()
    assert [session.send_request(request(), now=0, timeout=9)[0] for _ in range(4)] == [0, 1, 2, 3]
    session.receive_data(response_frame(2))
    assert session.send_request(request(), now=0, timeout=9)[0] == 2
    with pytest.raises(ClientError, match="every opaque is in use"):
        session.send_request(request(), now=0, timeout=9)


def test_oneway_requests_take_an_opaque_but_are_not_pending() -> None:
    session = ClientSession()
    opaque, frame = session.send_request(request(oneway=True), now=0, timeout=3)
    assert decode(frame).flag == 2
    assert (session.pending, session.get_timer()) == (0, None)
    assert session.send_request(request(), now=0, timeout=3)[0] == opaque + 1


def test_first_opaque_must_be_a_non_negative_int32() -> None:
    with pytest.raises(ConfigError):
        ClientSession(first_opaque=2**31)
    with pytest.raises(ConfigError):
        ClientSession(first_opaque=-1)


# --------------------------------------------------------------------------- matching


def test_out_of_order_responses_match_by_opaque() -> None:
    session = ClientSession()
    sent = [session.send_request(request(topic=t), now=0, timeout=3) for t in "ABC"]
    events = session.receive_data(response_frame(2) + response_frame(0) + response_frame(1))
    assert [type(e) for e in events] == [ResponseReceived] * 3
    assert [(e.opaque, e.request.ext_fields["topic"]) for e in events] == [(2, "C"), (0, "A"), (1, "B")]  # type: ignore[attr-defined]
    assert [e.response.opaque for e in events] == [2, 0, 1]  # type: ignore[attr-defined]
    assert [e.request for e in events] == [decode(sent[i][1]) for i in (2, 0, 1)]  # type: ignore[attr-defined]
    assert (session.pending, session.get_timer()) == (0, None)


def test_response_to_a_oneway_request_is_unmatched() -> None:
    # The C++ client's oneway sends carry flag 0, so brokers answer them.
    session = ClientSession()
    opaque, _ = session.send_request(request(oneway=True), now=0, timeout=3)
    (event,) = session.receive_data(response_frame(opaque))
    assert isinstance(event, UnmatchedResponse) and event.command.opaque == opaque


def test_unknown_opaque_is_unmatched_and_changes_nothing() -> None:
    session = ClientSession()
    session.send_request(request(), now=0, timeout=3)
    (event,) = session.receive_data(response_frame(99, code=17))
    assert event == UnmatchedResponse(decode(response_frame(99, code=17)))
    assert session.pending == 1


def test_server_request_with_a_pending_opaque_is_a_request() -> None:
    # Flag bit 0, not the opaque, tells a broker's request from a response.
    session = ClientSession()
    opaque, _ = session.send_request(request(SEND), now=0, timeout=3)
    check = RemotingCommand.request(CHECK_TRANSACTION_STATE, {"tranStateTableOffset": "5"}, opaque=opaque)
    (event,) = session.receive_data(encode(check))
    assert isinstance(event, RequestReceived)
    assert event.command == check
    assert session.pending == 1
    answer = decode(session.send_response(event.command.reply(0)))
    assert (answer.opaque, answer.flag) == (opaque, 1)
    (event,) = session.receive_data(response_frame(opaque))
    assert isinstance(event, ResponseReceived) and event.request.code == SEND


def test_byte_at_a_time_receive() -> None:
    session = ClientSession()
    session.send_request(request(), now=0, timeout=3)
    frame = response_frame(0, msgId="M")
    events = [session.receive_data(frame[i : i + 1]) for i in range(len(frame))]
    assert events[:-1] == [[]] * (len(frame) - 1)
    (last,) = events[-1]
    assert isinstance(last, ResponseReceived) and last.response.ext_fields == {"msgId": "M"}


def test_responses_in_either_serialization() -> None:
    session = ClientSession()
    session.send_request(request(), now=0, timeout=3)
    session.send_request(request(), now=0, timeout=3)
    binary = encode(RemotingCommand.response(0, 1, serialize_type=SerializeType.ROCKETMQ))
    events = session.receive_data(binary + response_frame(0))
    assert [e.opaque for e in events] == [1, 0]  # type: ignore[attr-defined]


def test_codec_errors_propagate() -> None:
    session = ClientSession()
    with pytest.raises(FrameError):
        session.receive_data(b"\xff\xff\xff\xff")


def test_send_request_takes_requests_and_send_response_responses() -> None:
    session = ClientSession()
    with pytest.raises(ClientError):
        session.send_request(RemotingCommand.response(0, 1), now=0, timeout=3)
    with pytest.raises(ClientError):
        session.send_response(request())


@pytest.mark.parametrize("timeout", [-1.0, float("nan"), float("inf")])
def test_timeout_must_be_finite_and_non_negative(timeout: float) -> None:
    with pytest.raises(ConfigError):
        ClientSession().send_request(request(), now=0, timeout=timeout)


def test_unencodable_request_registers_nothing_and_keeps_its_opaque() -> None:
    session = ClientSession()
    too_big_for_int16 = RemotingCommand.request(40000, serialize_type=SerializeType.ROCKETMQ)
    with pytest.raises(EncodeError):
        session.send_request(too_big_for_int16, now=0, timeout=3)
    assert session.pending == 0
    assert session.send_request(request(), now=0, timeout=3)[0] == 0


# --------------------------------------------------------------------------- timeouts


def test_request_times_out_at_its_deadline() -> None:
    session = ClientSession()
    opaque, _ = session.send_request(request(), now=100.0, timeout=3.0)
    assert session.get_timer() == 103.0
    assert session.handle_timer(102.999) == []
    (event,) = session.handle_timer(103.0)
    assert isinstance(event, RequestTimedOut)
    assert (event.opaque, event.request.opaque, event.timeout) == (opaque, opaque, 3.0)
    assert isinstance(event.error, RequestTimeoutError) and isinstance(event.error, TimeoutError)
    assert f"opaque {opaque}" in str(event.error)
    assert (session.pending, session.get_timer()) == (0, None)


def test_late_response_after_timeout_is_unmatched() -> None:
    session = ClientSession()
    opaque, _ = session.send_request(request(), now=0, timeout=1)
    session.handle_timer(5)
    (event,) = session.receive_data(response_frame(opaque))
    assert isinstance(event, UnmatchedResponse)


def test_a_request_the_caller_stopped_waiting_for_expires_at_once() -> None:
    # A thread waiting on its own clock gives up: the session forgets the
    # request, says it timed out, and a late answer is unmatched.
    session = ClientSession()
    opaque, _ = session.send_request(request(), now=0, timeout=3)
    event = session.expire(opaque)
    assert isinstance(event, RequestTimedOut) and (event.opaque, event.timeout) == (opaque, 3)
    assert (session.pending, session.get_timer(), session.handle_timer(10)) == (0, None, [])
    (late,) = session.receive_data(response_frame(opaque))
    assert isinstance(late, UnmatchedResponse)


def test_expiring_an_answered_request_reports_nothing() -> None:
    # The answer won the race: the caller gets the response, not a timeout.
    session = ClientSession()
    opaque, _ = session.send_request(request(), now=0, timeout=3)
    (answered,) = session.receive_data(response_frame(opaque))
    assert isinstance(answered, ResponseReceived)
    assert session.expire(opaque) is None and session.expire(12345) is None


def test_timer_is_the_earliest_live_deadline() -> None:
    session = ClientSession()
    a, _ = session.send_request(request(topic="A"), now=10, timeout=5)
    b, _ = session.send_request(request(topic="B"), now=10, timeout=1)
    c, _ = session.send_request(request(topic="C"), now=10, timeout=3)
    assert session.get_timer() == 11
    session.receive_data(response_frame(b))
    assert session.get_timer() == 13
    events = session.handle_timer(100)
    assert [e.opaque for e in events] == [c, a]
    assert session.get_timer() is None


def test_equal_deadlines_expire_in_sending_order() -> None:
    session = ClientSession()
    opaques = [session.send_request(request(), now=0, timeout=1)[0] for _ in range(5)]
    assert [e.opaque for e in session.handle_timer(1)] == opaques


def test_answered_request_leaves_no_timeout_behind_even_if_its_opaque_is_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(codec.session, "MAX_OPAQUE", 1)
    session = ClientSession()
    first, _ = session.send_request(request(), now=0, timeout=1)
    session.receive_data(response_frame(first))
    session.send_request(request(), now=0, timeout=10)
    reused, _ = session.send_request(request(), now=0, timeout=10)
    assert reused == first
    assert session.handle_timer(5) == []
    assert session.pending == 2


def test_many_answered_requests_keep_the_timer_heap_small() -> None:
    session = ClientSession()
    for _ in range(10_000):
        opaque, _ = session.send_request(request(), now=0, timeout=3600)
        session.receive_data(response_frame(opaque))
    assert len(session._heap) <= 2 * 64 + 2  # stale items are swept, not kept for an hour
    assert session.get_timer() is None


# --------------------------------------------------------------------------- connection loss


def test_connection_lost_fails_every_pending_request_in_sending_order() -> None:
    session = ClientSession()
    a, _ = session.send_request(request(topic="A"), now=0, timeout=3)
    session.send_request(request(oneway=True), now=0, timeout=3)
    b, _ = session.send_request(request(topic="B"), now=0, timeout=3)
    cause = OSError("connection reset by peer")
    events = session.connection_lost(cause)
    assert all(isinstance(e, RequestFailed) for e in events)
    assert [(e.opaque, e.request.ext_fields["topic"]) for e in events] == [(a, "A"), (b, "B")]
    assert all(isinstance(e.error, ConnectionClosedError) and e.error.__cause__ is cause for e in events)
    assert "connection reset by peer" in str(events[0].error)
    assert (session.pending, session.get_timer(), session.closed) == (0, None, True)
    assert session.handle_timer(10) == []


def test_closed_session_refuses_to_send_and_loses_nothing_twice() -> None:
    session = ClientSession()
    session.send_request(request(), now=0, timeout=3)
    assert len(session.connection_lost()) == 1
    assert session.connection_lost() == []
    with pytest.raises(ConnectionClosedError):
        session.send_request(request(), now=0, timeout=3)
    with pytest.raises(ConnectionClosedError):
        session.send_response(RemotingCommand.response(0, 1))
    with pytest.raises(ConnectionClosedError):
        session.receive_data(response_frame(0))


# --------------------------------------------------------------------------- robustness


@settings(max_examples=300)
@given(chunks=st.lists(st.binary(max_size=64), max_size=8), pending=st.integers(0, 3))
def test_random_bytes_raise_only_codec_errors(chunks: list[bytes], pending: int) -> None:
    session = ClientSession(max_frame_size=4096)
    for _ in range(pending):
        session.send_request(request(), now=0, timeout=3)
    try:
        for chunk in chunks:
            session.receive_data(chunk)
    except CodecError:
        pass


@settings(max_examples=100)
@given(garbage=st.binary(min_size=1, max_size=200))
def test_random_frame_bodies_raise_only_codec_errors(garbage: bytes) -> None:
    # A plausible length prefix, so the bytes reach the header parsers.
    session = ClientSession()
    try:
        session.receive_data(len(garbage).to_bytes(4, "big") + garbage)
    except CodecError:
        pass


# --------------------------------------------------------------------------- the server end
#
# ServerSession is the same machine seen from the broker: the client's
# requests come in as RequestReceived and are answered with send_response;
# the broker's own requests (NOTIFY_CONSUMER_IDS_CHANGED oneway,
# GET_CONSUMER_RUNNING_INFO two-way) take opaques from the session's own
# counter and are matched, timed out and failed like a client's.

NOTIFY_CONSUMER_IDS_CHANGED = 40
GET_CONSUMER_RUNNING_INFO = 307


def client_request(opaque: int, code: int = SEND) -> bytes:
    return encode(RemotingCommand.request(code, {"b": "T"}, b"body", opaque=opaque))


def test_server_session_yields_client_requests_and_frames_their_answers() -> None:
    session = ServerSession()
    events = session.receive_data(client_request(7) + client_request(8, ROUTE))
    assert [type(e) for e in events] == [RequestReceived, RequestReceived]
    first, second = (e.command for e in events)  # type: ignore[attr-defined]
    assert (first.opaque, first.code, first.body, second.opaque, second.code) == (7, SEND, b"body", 8, ROUTE)
    answer = decode(session.send_response(first.reply(0, ext_fields={"msgId": "M"})))
    assert (answer.opaque, answer.flag, answer.ext_fields) == (7, 1, {"msgId": "M"})
    assert session.pending == 0  # answering the client's requests registers nothing


def test_server_requests_take_the_servers_own_opaques() -> None:
    session = ServerSession(first_opaque=21212)
    session.receive_data(client_request(0) + client_request(1))
    notify = RemotingCommand.request(NOTIFY_CONSUMER_IDS_CHANGED, {"consumerGroup": "CG"}, oneway=True)
    opaque, frame = session.send_request(notify, now=0, timeout=0)
    sent = decode(frame)
    assert (opaque, sent.opaque, sent.flag, sent.ext_fields) == (21212, 21212, 2, {"consumerGroup": "CG"})
    assert session.pending == 0  # oneway: nothing will answer
    running_info, _ = session.send_request(RemotingCommand.request(GET_CONSUMER_RUNNING_INFO), now=0, timeout=5)
    assert (running_info, session.pending) == (21213, 1)


def test_server_matches_the_clients_answer_and_keeps_client_requests_apart() -> None:
    session = ServerSession()
    opaque, _ = session.send_request(RemotingCommand.request(GET_CONSUMER_RUNNING_INFO), now=10, timeout=5)
    # the client's own request with the same opaque is a request, not the answer
    (event,) = session.receive_data(client_request(opaque))
    assert isinstance(event, RequestReceived)
    (event,) = session.receive_data(response_frame(opaque, code=0, jstack="..."))
    assert isinstance(event, ResponseReceived)
    assert (event.opaque, event.request.code, event.response.ext_fields) == (opaque, GET_CONSUMER_RUNNING_INFO, {"jstack": "..."})
    (late,) = session.receive_data(response_frame(opaque))
    assert isinstance(late, UnmatchedResponse)


def test_server_requests_time_out_given_now_and_fail_on_connection_loss() -> None:
    session = ServerSession()
    slow, _ = session.send_request(RemotingCommand.request(GET_CONSUMER_RUNNING_INFO), now=100, timeout=3)
    lost, _ = session.send_request(RemotingCommand.request(GET_CONSUMER_RUNNING_INFO), now=100, timeout=30)
    assert session.get_timer() == 103
    (timed_out,) = session.handle_timer(103)
    assert timed_out.opaque == slow and isinstance(timed_out.error, RequestTimeoutError)
    (failed,) = session.connection_lost(OSError("reset"))
    assert failed.opaque == lost and isinstance(failed.error, ConnectionClosedError)
    with pytest.raises(ConnectionClosedError):
        session.send_request(RemotingCommand.request(40, oneway=True), now=0, timeout=0)


def test_a_client_and_a_server_session_talk_both_ways() -> None:
    client, server = ClientSession(), ServerSession(first_opaque=500)
    # client -> server request, answered
    c_opaque, frame = client.send_request(request(SEND), now=0, timeout=3)
    (got,) = server.receive_data(frame)
    assert isinstance(got, RequestReceived)
    (answered,) = client.receive_data(server.send_response(got.command.reply(0)))
    assert isinstance(answered, ResponseReceived) and answered.opaque == c_opaque
    # server -> client request, answered
    s_opaque, frame = server.send_request(RemotingCommand.request(CHECK_TRANSACTION_STATE), now=0, timeout=3)
    (pushed,) = client.receive_data(frame)
    assert isinstance(pushed, RequestReceived) and pushed.command.opaque == s_opaque == 500
    (back,) = server.receive_data(client.send_response(pushed.command.reply(0, "checked")))
    assert isinstance(back, ResponseReceived) and back.response.remark == "checked"
    assert (client.pending, server.pending) == (0, 0)


def test_the_server_session_is_the_client_sessions_machine() -> None:
    # One implementation of the opaque table, timers and framing, not two copies.
    assert issubclass(ServerSession, RemotingSession) and issubclass(ClientSession, RemotingSession)
    for name in ("send_request", "send_response", "receive_data", "get_timer", "handle_timer", "expire", "connection_lost"):
        assert getattr(ServerSession, name) is getattr(ClientSession, name) is getattr(RemotingSession, name)


# --------------------------------------------------------------------------- bounded buffering


def test_buffered_counts_the_bytes_of_an_unfinished_frame() -> None:
    session = ServerSession()
    frame = client_request(1)
    assert session.receive_data(frame[:10]) == [] and session.buffered == 10
    assert len(session.receive_data(frame[10:] + frame[:3])) == 1 and session.buffered == 3


def test_a_shared_budget_refuses_the_session_that_would_exceed_it() -> None:
    budget = BufferBudget(100)
    a, b = ServerSession(budget=budget), ServerSession(budget=budget)
    big = encode(RemotingCommand.request(SEND, body=bytes(200), opaque=1))
    assert a.receive_data(big[:60]) == []
    assert (a.buffered, budget.used) == (60, 60)
    with pytest.raises(FrameError, match="over the budget of 100"):
        b.receive_data(big[:50])
    assert budget.used == 60  # b gave its share back
    with pytest.raises(FrameError):
        b.receive_data(client_request(2))  # and stays refused: the stream is out of sync
    # a is not affected, and whole frames never count
    assert a.receive_data(big[60:100]) == [] and budget.used == 100
    (event,) = a.receive_data(big[100:])
    assert isinstance(event, RequestReceived) and budget.used == 0
    assert len(a.receive_data(client_request(3) * 5)) == 5 and budget.used == 0


def test_a_budget_share_is_released_on_codec_errors_and_connection_loss() -> None:
    budget = BufferBudget(1000)
    held, broken = ServerSession(budget=budget), ServerSession(budget=budget)
    held.receive_data(client_request(1)[:30])
    bad_type = (24).to_bytes(4, "big") + b"\x07\x00\x00\x04" + bytes(20)  # serialize type 7
    broken.receive_data(bad_type[:20])
    assert budget.used == 50
    with pytest.raises(CodecError):
        broken.receive_data(bad_type[20:])
    assert budget.used == 30
    held.connection_lost()
    assert budget.used == 0
    assert held.connection_lost() == [] and budget.used == 0


def test_without_a_budget_only_max_frame_size_bounds_a_session() -> None:
    session = ServerSession(max_frame_size=64)
    with pytest.raises(FrameError):
        session.receive_data(encode(RemotingCommand.request(SEND, body=bytes(100))))


@pytest.mark.parametrize("limit", [-1, 1.5, "10", True])
def test_a_budget_is_a_non_negative_int(limit: object) -> None:
    with pytest.raises(ConfigError):
        BufferBudget(limit)  # type: ignore[arg-type]


@settings(max_examples=200)
@given(
    chunks=st.lists(st.tuples(st.integers(0, 2), st.binary(max_size=80)), max_size=24),
    limit=st.integers(0, 300),
)
def test_budget_used_is_always_what_the_sessions_hold(chunks: list[tuple[int, bytes]], limit: int) -> None:
    budget = BufferBudget(limit)
    sessions = [ServerSession(max_frame_size=256, budget=budget) for _ in range(3)]
    live = [True, True, True]
    for index, data in chunks:
        if not live[index]:
            continue
        try:
            sessions[index].receive_data(data)
        except CodecError:
            live[index] = False
            sessions[index].connection_lost()
        assert budget.used == sum(s.buffered for s, ok in zip(sessions, live) if ok)
        assert budget.used <= max(limit, 0) or budget.used == 0
