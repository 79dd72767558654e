"""confluent-kafka (librdkafka 2.x) against a kraftsim cluster.

AdminClient creates a topic with 8 partitions and RF 3, an idempotent acks=all producer
writes numbered records, and a consumer reads every one back exactly once. The consumer
uses manual assignment: kraftsim has no consumer groups yet.

Usage: python3 confluent_kafka_check.py BOOTSTRAP_SERVERS
"""
import sys

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
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
        "group.id": "unused-kraftsim-has-no-groups-yet",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    consumer.assign([TopicPartition("py-confluent", p, OFFSET_BEGINNING) for p in range(8)])
    seen = {}
    eof = set()
    while len(eof) < 8:
        msg = consumer.poll(10)
        assert msg is not None, f"no progress after {len(seen)} records, eof on {sorted(eof)}"
        if msg.error():
            if msg.error().code() == -191:  # _PARTITION_EOF
                eof.add(msg.partition())
                continue
            raise RuntimeError(msg.error())
        v = msg.value().decode()
        seen[v] = seen.get(v, 0) + 1
    consumer.close()
    assert all(seen.get(v) == 1 for v in acked), "every acknowledged record exactly once"
    assert len(seen) == RECORDS, len(seen)
    print(f"confluent-kafka: {RECORDS} records produced (idempotent, acks=all) and consumed exactly once")


if __name__ == "__main__":
    main(sys.argv[1])
