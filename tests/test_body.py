"""codec.body against protocol.md sections 4.7 and 7, Examples 3 and 6 of
section 10, and the real frames of the C++ client session
(/work/shared/golden/cpp.jsonl: seq 17/23 are its heartbeats, seq 2/22 the
recording name server's fastjson-style route answers, which it accepted).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from golden_support import GoldenFrames
from hypothesis import given, settings
from hypothesis import strategies as st

import rmqwire.codec as codec
from rmqwire.codec.body import (
    MASTER_ID,
    BrokerData,
    ConsumerData,
    HeartbeatData,
    PermName,
    ProducerData,
    QueueData,
    SubscriptionData,
    TopicRouteData,
    quote_integer_keys,
    topic_route_to_publish_queues,
)
from rmqwire.codec.errors import CodecError, EncodeError, MalformedBodyError

FRAMES = GoldenFrames("cpp.jsonl")  # read at first use; its tests skip without ../shared


def body_of(seq: int) -> bytes:
    return codec.decode(bytes.fromhex(FRAMES[seq]["frame_hex"])).body


# --------------------------------------------------------------------------- 4.7 HeartbeatData

CLIENT_ID = "192.168.1.10@12345#1234567890"
PRODUCERS = (ProducerData("CLIENT_INNER_PRODUCER"), ProducerData("PG_DEMO"))
EXAMPLE6_5X = (
    b'{"clientID":"192.168.1.10@12345#1234567890","consumerDataSet":[],"heartbeatFingerprint":0,'
    b'"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"},{"groupName":"PG_DEMO"}],"withoutSub":false}'
)
EXAMPLE6_49 = (
    b'{"clientID":"192.168.1.10@12345#1234567890","consumerDataSet":[],'
    b'"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"},{"groupName":"PG_DEMO"}]}'
)


def test_example6_heartbeat_in_the_4_9_shape_is_147_bytes() -> None:
    body = HeartbeatData(CLIENT_ID, PRODUCERS).to_json()
    assert body == EXAMPLE6_49
    assert len(body) == 147


def test_example6_heartbeat_with_the_5_1_3_fields_is_191_bytes() -> None:
    body = HeartbeatData(CLIENT_ID, PRODUCERS, heartbeat_fingerprint=0, without_sub=False).to_json()
    assert body == EXAMPLE6_5X
    assert len(body) == 191


@pytest.mark.parametrize("body", [EXAMPLE6_49, EXAMPLE6_5X])
def test_example6_heartbeats_parse_back(body: bytes) -> None:
    data = HeartbeatData.from_json(body)
    assert data.client_id == CLIENT_ID
    assert set(data.producer_data_set) == set(PRODUCERS)  # Java's HashSet order is arbitrary
    assert data.consumer_data_set == ()
    assert data.to_json() == body


@pytest.mark.parametrize("seq", [17, 23])
def test_cpp_heartbeat_parses_without_consumer_set_and_with_trailing_newline(seq: int) -> None:
    body = body_of(seq)
    assert body.endswith(b"}\n") and b"consumerDataSet" not in body
    data = HeartbeatData.from_json(body)
    assert data.producer_data_set == (ProducerData(FRAMES[seq]["driver_context"]["group"]),)
    assert data.consumer_data_set == ()
    assert data.client_id.endswith("@DEFAULT")
    assert data.heartbeat_fingerprint is None and data.without_sub is None


def test_consumer_heartbeat_round_trips_with_java_field_names() -> None:
    sub = SubscriptionData("TopicTest", "TagA || TagB", ("TagA", "TagB"), (2598919, 2598920), 1700000000000)
    consumer = ConsumerData("CG", "CONSUME_PASSIVELY", "CLUSTERING", "CONSUME_FROM_LAST_OFFSET", (sub,))
    data = HeartbeatData(CLIENT_ID, (), (consumer,))
    body = data.to_json()
    obj = json.loads(body)
    assert list(obj["consumerDataSet"][0]) == [
        "consumeFromWhere", "consumeType", "groupName", "messageModel", "subscriptionDataSet", "unitMode",
    ]  # fmt: skip
    assert obj["consumerDataSet"][0]["subscriptionDataSet"][0] == {
        "classFilterMode": False,
        "codeSet": [2598919, 2598920],
        "expressionType": "TAG",
        "subString": "TagA || TagB",
        "subVersion": 1700000000000,
        "tagsSet": ["TagA", "TagB"],
        "topic": "TopicTest",
    }
    assert HeartbeatData.from_json(body) == data


def test_heartbeat_reading_is_as_lenient_as_fastjson() -> None:
    body = (
        b'{"clientID":"c","unknown":{"x":[1,2]},"producerDataSet":null,"heartbeatFingerprint":"7",'
        b'"withoutSub":"true","consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_ACTIVELY",'
        b'"messageModel":"BROADCASTING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET",'
        b'"subscriptionDataSet":[{"topic":"t","subString":"*"}]}]}'
    )
    data = HeartbeatData.from_json(body)
    assert data.producer_data_set == ()
    assert (data.heartbeat_fingerprint, data.without_sub) == (7, True)
    assert data.consumer_data_set[0].subscription_data_set == (SubscriptionData("t", "*"),)
    assert data.consumer_data_set[0].unit_mode is False


def test_non_ascii_is_written_as_raw_utf8_like_fastjson() -> None:
    body = HeartbeatData("客户端", (ProducerData("组"),)).to_json()
    assert "客户端".encode() in body
    assert HeartbeatData.from_json(body).client_id == "客户端"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'"clientID"',
        b"{}",  # clientID is required
        b'{"clientID":1}',
        b'{"clientID":"c","producerDataSet":{}}',
        b'{"clientID":"c","producerDataSet":[1]}',
        b'{"clientID":"c","producerDataSet":[{}]}',
        b'{"clientID":"c","producerDataSet":[{"groupName":["x"]}]}',
        b'{"clientID":"c","heartbeatFingerprint":1.5}',
        b'{"clientID":"c","heartbeatFingerprint":4294967296}',
        b'{"clientID":"c","withoutSub":"maybe"}',
        b'{"clientID":"c","consumerDataSet":[{"groupName":"g"}]}',
        b'{"clientID":"c","consumerDataSet":[{"groupName":"g","consumeType":"A","messageModel":"B",'
        b'"consumeFromWhere":"C","subscriptionDataSet":[{"topic":"t","subString":"*","codeSet":["x"]}]}]}',
        b'{"clientID":"\xff"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"clientID":"c","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"clientID":"c","heartbeatFingerprint":' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_heartbeats(body: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        HeartbeatData.from_json(body)


def test_heartbeat_values_of_the_wrong_type_do_not_encode() -> None:
    for bad in [
        HeartbeatData(None, PRODUCERS),  # type: ignore[arg-type]
        HeartbeatData(CLIENT_ID, (ProducerData(1),)),  # type: ignore[arg-type]
        HeartbeatData(CLIENT_ID, heartbeat_fingerprint=2**31),
        HeartbeatData("\ud800"),
        HeartbeatData(CLIENT_ID, ("PG_DEMO",)),  # type: ignore[arg-type]
        HeartbeatData(CLIENT_ID, None),  # type: ignore[arg-type]
        HeartbeatData(CLIENT_ID, (), (ConsumerData("g", "t", "m", "w", (SubscriptionData("t", "*", code_set=(1.5,)),)),)),  # type: ignore[arg-type]
    ]:
        with pytest.raises(EncodeError):
            bad.to_json()


names = st.text(max_size=12)
subscriptions = st.builds(
    SubscriptionData,
    names,
    names,
    st.lists(names, max_size=3).map(tuple),
    st.lists(st.integers(-(2**31), 2**31 - 1), max_size=3).map(tuple),
    st.integers(0, 2**63 - 1),
    st.sampled_from(["TAG", "SQL92"]),
    st.booleans(),
)
consumers = st.builds(
    ConsumerData, names, names, names, names, st.lists(subscriptions, max_size=2).map(tuple), st.booleans()
)
heartbeats = st.builds(
    HeartbeatData,
    names,
    st.lists(st.builds(ProducerData, names), max_size=3).map(tuple),
    st.lists(consumers, max_size=2).map(tuple),
    st.none() | st.integers(-(2**31), 2**31 - 1),
    st.none() | st.booleans(),
)


@settings(max_examples=300)
@given(heartbeats)
def test_heartbeat_round_trip(data: HeartbeatData) -> None:
    assert HeartbeatData.from_json(data.to_json()) == data


@settings(max_examples=400)
@given(st.binary(max_size=200) | st.text(st.sampled_from('{}[],:"0 aclientIDproducerDataSet'), max_size=80).map(str.encode))
def test_heartbeat_from_arbitrary_bytes_raises_only_codec_errors(data: bytes) -> None:
    try:
        HeartbeatData.from_json(data)
    except CodecError:
        pass


# --------------------------------------------------------------------------- 7 TopicRouteData

GOLDEN_ROUTE_LEGACY = (
    b'{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],'
    b'"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,'
    b'"writeQueueNums":4}]}'
)
EXAMPLE3_STANDARD = (
    b'{"brokerDatas":[{"brokerAddrs":{"0":"192.168.1.10:10911"},"brokerName":"broker-a","cluster":"DefaultCluster",'
    b'"enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,'
    b'"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
)
EXAMPLE3_LEGACY = EXAMPLE3_STANDARD.replace(b'{"0":', b"{0:")
SECTION_7_2_TWO_ADDRS = (
    b'{"brokerDatas":[{"brokerAddrs":{0:"192.168.1.10:10911",1:"192.168.1.11:10911"},"brokerName":"broker-a",'
    b'"cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":'
    b'"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}'
)


@pytest.mark.parametrize("seq", [2, 22])
def test_cpp_session_route_answers_parse_to_broker_a_with_4_write_queues(seq: int) -> None:
    body = body_of(seq)
    assert b'{0:"127.0.0.1:10911"}' in body  # not JSON: Python's json would reject it
    route = TopicRouteData.from_json(body)
    (broker,) = route.broker_datas
    assert (broker.cluster, broker.broker_name, broker.broker_addrs) == ("DefaultCluster", "broker-a", {0: "127.0.0.1:10911"})
    assert broker.master_addr == "127.0.0.1:10911"
    assert route.queue_datas == (QueueData("broker-a", 4, 4, 6, 0),)
    assert route.filter_server_table == {} and route.order_topic_conf is None
    assert topic_route_to_publish_queues("GoldenTopic", route) == [("broker-a", i) for i in range(4)]


@pytest.mark.parametrize("seq", [2, 22])
def test_cpp_session_route_answers_round_trip_in_both_forms(seq: int) -> None:
    body = body_of(seq)
    route = TopicRouteData.from_json(body)
    assert route.to_json() == body == GOLDEN_ROUTE_LEGACY  # byte for byte, as the legacy name server wrote it
    standard = route.to_json(standard=True)
    assert json.loads(standard)["brokerDatas"][0]["brokerAddrs"] == {"0": "127.0.0.1:10911"}
    assert TopicRouteData.from_json(standard) == route
    assert TopicRouteData.from_json(route.to_json(standard=False)) == route


def test_example3_standard_and_legacy_answers_are_the_same_route() -> None:
    standard = TopicRouteData.from_json(EXAMPLE3_STANDARD)
    assert standard == TopicRouteData.from_json(EXAMPLE3_LEGACY)
    assert standard.broker_datas[0].enable_acting_master is False
    assert standard.to_json(standard=True) == EXAMPLE3_STANDARD
    assert standard.to_json() == EXAMPLE3_LEGACY


def test_section_7_2_master_and_slave() -> None:
    route = TopicRouteData.from_json(SECTION_7_2_TWO_ADDRS)
    assert route.broker_datas[0].broker_addrs == {0: "192.168.1.10:10911", 1: "192.168.1.11:10911"}
    assert route.broker_datas[0].master_addr == "192.168.1.10:10911"
    assert route.to_json() == SECTION_7_2_TWO_ADDRS


def test_standard_form_sorts_broker_ids() -> None:
    route = TopicRouteData((), (BrokerData("c", "b", {2: "x:2", 0: "x:0", 1: "x:1"}),))
    assert b'"brokerAddrs":{"0":"x:0","1":"x:1","2":"x:2"}' in route.to_json(standard=True)
    assert b'"brokerAddrs":{0:"x:0",1:"x:1",2:"x:2"}' in route.to_json()


def test_topic_syn_flag_of_4_8_0_and_older_is_accepted() -> None:
    old = EXAMPLE3_STANDARD.replace(b'"topicSysFlag":0', b'"topicSynFlag":3')
    assert TopicRouteData.from_json(old).queue_datas[0].topic_sys_flag == 3


def test_5x_fields_and_unknown_keys() -> None:
    body = (
        b'{"brokerDatas":[{"brokerAddrs":{},"brokerName":"b","cluster":"c","zoneName":"z"}],'
        b'"queueDatas":[],"topicQueueMappingByBroker":{"b":{"currIdMap":{0:1}}},"orderTopicConf":"b:2"}'
    )
    route = TopicRouteData.from_json(body)
    assert route.broker_datas[0].zone_name == "z"
    assert route.broker_datas[0].master_addr is None
    assert route.order_topic_conf == "b:2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{0:"a"}', '{"0":"a"}'),
        ('{ 0 : "a" , -1:"b"}', '{ "0" : "a" , "-1":"b"}'),
        ('{"k":{10:"a",11:"b"}}', '{"k":{"10":"a","11":"b"}}'),
        # digits inside strings are never touched, whatever surrounds them
        ('{"brokerName":"b,1:x"}', '{"brokerName":"b,1:x"}'),
        ('{"v":"{0:"}', '{"v":"{0:"}'),
        ('{"v":"\\",1:"}', '{"v":"\\",1:"}'),  # an escaped quote does not end the string
        ('{"v\\\\":{2:"x"}}', '{"v\\\\":{"2":"x"}}'),  # an escaped backslash does
        ("[1,2,3]", "[1,2,3]"),  # array elements are not keys
        ('{"a":1,"b":2}', '{"a":1,"b":2}'),  # numbers as values are not keys
        ('{"open', '{"open'),  # unterminated string: left alone
    ],
)
def test_quote_integer_keys_scans_strings_and_quotes_only_keys(text: str, expected: str) -> None:
    assert quote_integer_keys(text) == expected


def test_scanner_leaves_broker_names_and_addresses_alone() -> None:
    tricky = (
        '{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"b,1:x{0:y","cluster":"c,2:"}],'
        '"filterServerTable":{},"queueDatas":[{"brokerName":"b,1:x{0:y","perm":6,"readQueueNums":1,"writeQueueNums":1}]}'
    )
    route = TopicRouteData.from_json(tricky.encode())
    assert route.broker_datas[0].broker_name == "b,1:x{0:y"
    assert route.broker_datas[0].cluster == "c,2:"
    assert topic_route_to_publish_queues("T", route) == [("b,1:x{0:y", 0)]
    assert TopicRouteData.from_json(route.to_json()) == route


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{0:",
        b"null",
        b"[]",
        b'{"queueDatas":[]}',  # brokerDatas missing
        b'{"brokerDatas":[]}',  # queueDatas missing
        b'{"brokerDatas":{},"queueDatas":[]}',
        b'{"brokerDatas":[{"brokerName":"b","cluster":"c"}],"queueDatas":[]}',  # brokerAddrs missing
        b'{"brokerDatas":[{"brokerAddrs":{"x":"a"},"brokerName":"b","cluster":"c"}],"queueDatas":[]}',
        b'{"brokerDatas":[{"brokerAddrs":{0:1},"brokerName":"b","cluster":"c"}],"queueDatas":[]}',
        b'{"brokerDatas":[{"brokerAddrs":{99999999999999999999:"a"},"brokerName":"b","cluster":"c"}],"queueDatas":[]}',
        b'{"brokerDatas":[],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4}]}',
        b'{"brokerDatas":[],"queueDatas":[{"brokerName":"b","perm":"rw","readQueueNums":4,"writeQueueNums":4}]}',
        b'{"brokerDatas":[],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"writeQueueNums":true}]}',
        b'{"brokerDatas":[],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"writeQueueNums":2147483648}]}',
        b'{"brokerDatas":[],"queueDatas":[],"filterServerTable":{"a":"b"}}',
        b'{"brokerDatas":[],"queueDatas":[],"orderTopicConf":5}',
        b'{"brokerDatas":[],"queueDatas":[],"x":"\xff"}',
        b"{" * 100_000,
        b'{"brokerDatas":' + b"[" * 100_000 + b"]" * 100_000 + b',"queueDatas":[]}',
        b'{"brokerDatas":[{"brokerAddrs":{' + b"1" * 5000 + b':"a"},"brokerName":"b","cluster":"c"}],"queueDatas":[]}',
        b'{"brokerDatas":[],"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":4,"writeQueueNums":'
        + b"9" * 5000 + b"}]}",
    ],
)
def test_malformed_routes(body: bytes) -> None:
    with pytest.raises(MalformedBodyError):
        TopicRouteData.from_json(body)


def test_route_values_of_the_wrong_type_do_not_encode() -> None:
    for bad in [
        TopicRouteData((QueueData("b", 4, 4, "6"),), ()),  # type: ignore[arg-type]
        TopicRouteData((), (BrokerData("c", "b", {"0": "a"}),)),  # type: ignore[dict-item]
        TopicRouteData((), (BrokerData("c", None, {}),)),  # type: ignore[arg-type]
        TopicRouteData((), (BrokerData("c", "b", {}, zone_name=5),)),  # type: ignore[arg-type]
        TopicRouteData((), (BrokerData("c", "b", None),)),  # type: ignore[arg-type]
        TopicRouteData(("broker-a",), ()),  # type: ignore[arg-type]
        TopicRouteData((), (), filter_server_table=None),  # type: ignore[arg-type]
        TopicRouteData((), (), order_topic_conf=1),  # type: ignore[arg-type]
    ]:
        with pytest.raises(EncodeError):
            bad.to_json()


# --------------------------------------------------------------------------- 7.3 publish queues


def test_perm_names_are_java_perm_name() -> None:
    assert (PermName.PERM_PRIORITY, PermName.PERM_READ, PermName.PERM_WRITE, PermName.PERM_INHERIT) == (8, 4, 2, 1)
    assert PermName.PERM_READ | PermName.PERM_WRITE == 6
    assert MASTER_ID == 0


def broker(name: str, *ids: int) -> BrokerData:
    return BrokerData("DefaultCluster", name, {i: f"10.0.0.{i + 1}:10911" for i in ids})


def test_publish_queues_sorted_by_broker_writable_with_a_master() -> None:
    route = TopicRouteData(
        queue_datas=(
            QueueData("broker-c", 8, 2, 6),
            QueueData("broker-a", 4, 3, 6),
            QueueData("broker-b", 4, 4, int(PermName.PERM_READ)),  # read-only: skipped
            QueueData("broker-d", 4, 4, 6),  # slave only: skipped
            QueueData("broker-e", 4, 4, 6),  # no BrokerData: skipped
            QueueData("broker-f", 4, 1, int(PermName.PERM_WRITE)),  # write-only is enough
        ),
        broker_datas=(broker("broker-a", 0, 1), broker("broker-b", 0), broker("broker-c", 0), broker("broker-d", 1),
                      broker("broker-f", 0)),  # fmt: skip
    )
    assert topic_route_to_publish_queues("T", route) == [
        ("broker-a", 0), ("broker-a", 1), ("broker-a", 2),
        ("broker-c", 0), ("broker-c", 1),
        ("broker-f", 0),
    ]  # fmt: skip


def test_broker_names_sort_like_java_string_compare_to() -> None:
    # U+FF5E is above the surrogates in UTF-16 and so after U+1F600 (a surrogate pair) for Java.
    route = TopicRouteData(
        (QueueData("\uff5e", 1, 1, 6), QueueData("\U0001f600", 1, 1, 6), QueueData("B", 1, 1, 6), QueueData("a", 1, 1, 6)),
        (broker("\uff5e", 0), broker("\U0001f600", 0), broker("B", 0), broker("a", 0)),
    )
    assert [b for b, _ in topic_route_to_publish_queues("T", route)] == ["B", "a", "\U0001f600", "\uff5e"]


def test_order_topic_conf_decides_the_queues_in_its_own_order() -> None:
    route = TopicRouteData((QueueData("broker-a", 4, 4, 6),), (broker("broker-a", 0),), order_topic_conf="broker-b:2;broker-a:1;")
    assert topic_route_to_publish_queues("T", route) == [("broker-b", 0), ("broker-b", 1), ("broker-a", 0)]


def test_empty_order_topic_conf_means_none() -> None:
    route = TopicRouteData((QueueData("broker-a", 4, 2, 6),), (broker("broker-a", 0),), order_topic_conf="")
    assert topic_route_to_publish_queues("T", route) == [("broker-a", 0), ("broker-a", 1)]


@pytest.mark.parametrize("conf", ["broker-a", "broker-a:x", "broker-a:", "broker-a:99999999999", "a:1;b:100000000"])
def test_unreadable_order_topic_conf_is_malformed(conf: str) -> None:
    route = TopicRouteData((), (), order_topic_conf=conf)
    with pytest.raises(MalformedBodyError):
        topic_route_to_publish_queues("T", route)


def test_a_corrupt_queue_count_cannot_exhaust_memory() -> None:
    route = TopicRouteData((QueueData("b", 4, 2**31 - 1, 6),), (broker("b", 0),))
    with pytest.raises(MalformedBodyError):
        topic_route_to_publish_queues("T", route)


broker_names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
routes = st.builds(
    TopicRouteData,
    st.lists(
        st.builds(QueueData, broker_names, st.integers(0, 16), st.integers(0, 16), st.integers(0, 15), st.integers(0, 3)),
        max_size=4,
    ).map(tuple),
    st.lists(
        st.builds(
            BrokerData,
            broker_names,
            broker_names,
            st.dictionaries(st.integers(-(2**63), 2**63 - 1), broker_names, max_size=3),
            st.none() | st.booleans(),
            st.none() | broker_names,
        ),
        max_size=3,
    ).map(tuple),
    st.dictionaries(broker_names, st.lists(broker_names, max_size=2), max_size=2),
    st.none() | st.just("b:2"),
)


@settings(max_examples=300)
@given(routes, st.booleans())
def test_route_round_trip_in_both_forms(route: TopicRouteData, standard: bool) -> None:
    assert TopicRouteData.from_json(route.to_json(standard=standard)) == route


json_ish = st.text(st.sampled_from('{}[],:" \\0123-abrokerAddrsqueueDatas'), max_size=120)


@settings(max_examples=500)
@given(st.binary(max_size=200).map(lambda b: b.decode("latin-1")) | json_ish)
def test_route_from_arbitrary_text_raises_only_codec_errors(text: str) -> None:
    for data in (text.encode("utf-8", "surrogatepass"), text.encode("latin-1", "replace")):
        try:
            TopicRouteData.from_json(data)
        except CodecError:
            pass


@settings(max_examples=300)
@given(json_ish)
def test_quote_integer_keys_never_changes_valid_json(text: str) -> None:
    try:
        json.loads(text)
    except ValueError:
        return
    assert quote_integer_keys(text) == text


def test_route_to_queues_with_read_permission_is_topic_route_data_2_topic_subscribe_info() -> None:
    from rmqwire.codec.body import topic_route_to_queues

    route = TopicRouteData(
        (
            QueueData("broker-b", 2, 8, 6),
            QueueData("broker-a", 3, 1, int(PermName.PERM_READ)),
            QueueData("broker-c", 4, 4, int(PermName.PERM_WRITE)),  # write-only: not readable
            QueueData("broker-d", 1, 1, 6),  # slave only: still readable
        ),
        (broker("broker-a", 0), broker("broker-b", 0), broker("broker-c", 0), broker("broker-d", 1)),
        order_topic_conf="broker-x:2",
    )
    assert topic_route_to_queues("T", route, PermName.PERM_READ) == [
        ("broker-a", 0), ("broker-a", 1), ("broker-a", 2), ("broker-b", 0), ("broker-b", 1), ("broker-d", 0),
    ]  # fmt: skip
    assert topic_route_to_queues("T", route) == topic_route_to_publish_queues("T", route) == [
        ("broker-x", 0), ("broker-x", 1),
    ]  # fmt: skip
    with pytest.raises(ValueError):
        topic_route_to_queues("T", route, PermName.PERM_READ | PermName.PERM_WRITE)
    with pytest.raises(MalformedBodyError):
        topic_route_to_queues("T", TopicRouteData((QueueData("b", 2**31 - 1, 1, 6),), (broker("b", 0),)), PermName.PERM_READ)
