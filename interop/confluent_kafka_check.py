"""confluent-kafka (librdkafka 2.x) against a kraftsim cluster.

AdminClient creates a topic with 8 partitions and RF 3, an idempotent acks=all producer
writes numbered records, a consumer group reads every one back exactly once and commits,
and a second consumer of the same group then finds nothing left to read. A transactional
producer commits one transaction and aborts another; a read_committed consumer reads exactly
the committed records; a second producer with the same transactional.id fences the first. A read-process-write step sends
the consumer's position to a transaction (send_offsets_to_transaction): the group's offset
moves when it commits and not when it aborts.

Usage: python3 confluent_kafka_check.py BOOTSTRAP_SERVERS
"""
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

RECORDS = 2000


def main(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic("py-confluent", num_partitions=8, replication_factor=3)])
    for topic, f in futures.items():
        f.result(timeout=30)
    md = admin.list_topics(timeout=10)
    assert len(md.brokers) == 3, md.brokers
    assert len(md.topics["py-confluent"].partitions) == 8

    acked = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            acked.append(msg.value().decode())

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for i in range(RECORDS):
        producer.produce("py-confluent", value=f"cf-{i}".encode(), key=str(i % 97).encode(), on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} records not delivered"
    assert not errors, errors
    assert len(acked) == RECORDS, len(acked)

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "py-confluent-group",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe(["py-confluent"])
    seen = {}
    deadline = time.time() + 60
    while len(seen) < RECORDS and time.time() < deadline:
        msg = consumer.poll(1)
        if msg is None:
            continue
        if msg.error():
            raise RuntimeError(msg.error())
        v = msg.value().decode()
        seen[v] = seen.get(v, 0) + 1
    consumer.commit(asynchronous=False)
    consumer.close()
    assert all(seen.get(v) == 1 for v in acked), "every acknowledged record exactly once"
    assert len(seen) == RECORDS, len(seen)

    # The group's committed offsets are where a new member starts: nothing is left.
    again = Consumer({"bootstrap.servers": bootstrap, "group.id": "py-confluent-group", "auto.offset.reset": "earliest"})
    again.subscribe(["py-confluent"])
    leftover = []
    deadline = time.time() + 8
    while time.time() < deadline:
        msg = again.poll(0.5)
        if msg is not None and not msg.error():
            leftover.append(msg.value())
    again.close()
    assert not leftover, f"{len(leftover)} records read again despite the committed offsets"
    # Admin: the group, the cluster, more partitions.
    groups = admin.list_consumer_groups().result(timeout=10)
    assert any(g.group_id == "py-confluent-group" for g in groups.valid), groups.valid
    described = admin.describe_consumer_groups(["py-confluent-group"])["py-confluent-group"].result(timeout=10)
    assert described.group_id == "py-confluent-group"
    cluster = admin.describe_cluster().result(timeout=10)
    assert len(cluster.nodes) == 3, cluster.nodes
    from confluent_kafka.admin import NewPartitions
    for topic, f in admin.create_partitions([NewPartitions("py-confluent", 12)]).items():
        f.result(timeout=30)
    deadline = time.time() + 30
    while len(admin.list_topics(timeout=10).topics["py-confluent"].partitions) != 12:
        assert time.time() < deadline, "the topic grew to 12 partitions"
        time.sleep(0.2)
    # Configs: a topic override, read back, enforced.
    from confluent_kafka.admin import ConfigResource, ConfigEntry, AlterConfigOpType
    res = ConfigResource(ConfigResource.Type.TOPIC, "py-confluent",
                         incremental_configs=[ConfigEntry("min.insync.replicas", "3", incremental_operation=AlterConfigOpType.SET)])
    for r, f in admin.incremental_alter_configs([res]).items():
        f.result(timeout=30)
    described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "py-confluent")])
    for r, f in described.items():
        configs = f.result(timeout=30)
        assert configs["min.insync.replicas"].value == "3", configs
    transactions(admin, bootstrap)
    print(f"confluent-kafka: {RECORDS} records produced (idempotent, acks=all), consumed exactly once by a group, offsets committed; transactions committed, aborted and fenced; send_offsets_to_transaction moved the group's offset at the commit and not at the abort")


def read_committed(bootstrap, topic, want):
    """Partition 0 of `topic` from the start at read_committed, until `want` records came
    (and a little longer: nothing undecided or aborted may follow)."""
    from confluent_kafka import TopicPartition
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "py-confluent-txn-reader",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
    })
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + 30
    extra_until = None
    while time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None:
            if msg.error():
                raise RuntimeError(msg.error())
            got.append(msg.value().decode())
        if len(got) >= want and extra_until is None:
            extra_until = time.time() + 1
        if extra_until is not None and time.time() > extra_until:
            break
    consumer.close()
    return got


def transactions(admin, bootstrap):
    from confluent_kafka import KafkaException
    topic = "py-confluent-txn"
    for _, f in admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=3)]).items():
        f.result(timeout=30)
    config = {"bootstrap.servers": bootstrap, "transactional.id": "py-confluent-txn"}
    first = Producer(config)
    first.init_transactions(30)
    first.begin_transaction()
    for i in range(3):
        first.produce(topic, value=f"committed-{i}".encode(), partition=0)
    first.commit_transaction(30)
    first.begin_transaction()
    for i in range(2):
        first.produce(topic, value=f"aborted-{i}".encode(), partition=0)
    first.flush(30)
    first.abort_transaction(30)
    first.begin_transaction()
    first.produce(topic, value=b"committed-3", partition=0)
    first.commit_transaction(30)
    got = read_committed(bootstrap, topic, 4)
    assert got == [f"committed-{i}" for i in range(4)], got

    # A second instance fences the first: its next commit fails as fenced.
    second = Producer(config)
    second.init_transactions(30)
    fenced = False
    try:
        first.begin_transaction()
        first.produce(topic, value=b"zombie", partition=0)
        first.commit_transaction(30)
    except KafkaException as e:
        fenced = e.args[0].fatal() or "fenced" in str(e).lower()
    assert fenced, "the old instance was fenced"
    second.begin_transaction()
    second.produce(topic, value=b"committed-4", partition=0)
    second.commit_transaction(30)
    got = read_committed(bootstrap, topic, 5)
    assert got == [f"committed-{i}" for i in range(5)], got
    read_process_write(admin, bootstrap, topic)


def group_offset(admin, group, tp):
    """The group's committed offset of `tp` (require_stable, KIP-447), None if none by the
    deadline. commit_transaction returns once the decision is written, before the markers:
    while the group coordinator holds the transaction's offsets pending it answers
    UNSTABLE_OFFSET_COMMIT, and this asks again (Apache Kafka has the same race)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            result = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, [tp])], require_stable=True)[group].result(timeout=30)
            got = [p for p in result.topic_partitions if p.error is None and p.offset >= 0]
            if got:
                return got[0].offset
        except KafkaException as e:
            if e.args[0].code() != KafkaError.UNSTABLE_OFFSET_COMMIT:
                raise
        time.sleep(0.1)
    return None


def read_process_write(admin, bootstrap, topic):
    """One read-process-write step committed, one aborted: a group consumer reads the
    committed records, a transactional producer writes one record per record read and sends
    the consumer's position to the transaction (send_offsets_to_transaction: AddOffsetsToTxn,
    then TxnOffsetCommit to the group coordinator). The group's offset moves at the commit
    and stays at the abort."""
    from confluent_kafka import TopicPartition
    group = "py-confluent-txn-group"
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    consumer.subscribe([topic])
    read = []
    deadline = time.time() + 30
    while len(read) < 5 and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is not None:
            if msg.error():
                raise RuntimeError(msg.error())
            read.append(msg.value().decode())
    assert read == [f"committed-{i}" for i in range(5)], read
    tp = TopicPartition(topic, 0)
    position = consumer.position([tp])[0].offset
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "py-confluent-txn-rpw"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for v in read:
        producer.produce(topic, value=f"processed-{v}".encode(), partition=0)
    producer.send_offsets_to_transaction(consumer.position([tp]), consumer.consumer_group_metadata(), 30)
    producer.commit_transaction(30)
    after_commit = group_offset(admin, group, tp)
    assert after_commit == position, f"after the commit the group's offset is {after_commit}, want {position}"

    producer.begin_transaction()
    producer.produce(topic, value=b"processed-aborted", partition=0)
    producer.send_offsets_to_transaction([TopicPartition(topic, 0, position + 1)],
                                         consumer.consumer_group_metadata(), 30)
    producer.abort_transaction(30)
    after_abort = group_offset(admin, group, tp)
    assert after_abort == position, f"after the abort the group's offset is {after_abort}, want it still {position}"
    consumer.close()


if __name__ == "__main__":
    main(sys.argv[1])
