"""kafka-python against a kraftsim cluster: create a topic, produce, consume in a group.

Usage: python3 kafka_python_check.py BOOTSTRAP_SERVERS
"""
import sys

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

RECORDS = 1000


def main(bootstrap):
    servers = bootstrap.split(",")
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.create_topics([NewTopic("py-kafka-python", num_partitions=4, replication_factor=3)])
    admin.close()

    producer = KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
    futures = [producer.send("py-kafka-python", f"kp-{i}".encode()) for i in range(RECORDS)]
    producer.flush(60)
    offsets = [f.get(timeout=30).offset for f in futures]
    assert len(offsets) == RECORDS
    producer.close()

    consumer = KafkaConsumer("py-kafka-python", bootstrap_servers=servers, group_id="py-kafka-python-group",
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=20000)
    seen = {}
    for msg in consumer:
        v = msg.value.decode()
        seen[v] = seen.get(v, 0) + 1
        if len(seen) == RECORDS:
            break
    consumer.commit()
    consumer.close()
    missing = [i for i in range(RECORDS) if seen.get(f"kp-{i}") != 1]
    assert not missing, f"{len(missing)} records missing or duplicated, e.g. {missing[:5]}"
    print(f"kafka-python: {RECORDS} records produced (acks=all) and consumed exactly once by a group")


if __name__ == "__main__":
    main(sys.argv[1])
