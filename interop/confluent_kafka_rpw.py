"""confluent-kafka (librdkafka): exactly-once read-process-write across node kills.

The loop librdkafka documents (KIP-98, KIP-447; confluent-kafka-python's
examples/eos-transactions.py): a consumer in a group (isolation.level=read_committed,
enable.auto.commit=false) and a transactional producer copy every record of the input topic
to the same partition of the output topic, one transaction per batch, the consumer's
positions sent to the transaction with
send_offsets_to_transaction(consumer.position(...), consumer.consumer_group_metadata()).
Errors are handled as documented: a retriable one retries the call; one that
txn_requires_abort() aborts and seeks the consumer back to the group's committed offsets; a
fatal one (this producer was fenced) closes the producer and a new one with the same
transactional.id takes over (init_transactions aborts what the old one left open).

With "faults", while the loop runs the script asks its driver (sim/tests/interop_python.rs,
through sim/tests/interop_support/fault_driver.rs) to kill and later restart three nodes in
turn: the leader of output partition 0, the transaction coordinator's node (the leader of
__transaction_state's partition abs(hash(transactional.id)) % 50, Kafka's
TransactionStateManager.partitionFor: librdkafka's Admin has no DescribeTransactions), and
the group coordinator's node (describe_consumer_groups' coordinator). A request is one
stdout line, "FAULT kill N <why>" or "FAULT restart N <why>"; the driver answers one stdin
line, "done ...". A request goes between a transaction's send_offsets_to_transaction and its
commit_transaction, so the fault lands while that transaction is in flight; the next waits
until COMMITS_BETWEEN_FAULTS more transactions committed, and a restart at most MAX_DOWN_S
(why: at MAX_DOWN_S).

At the end a fresh read_committed consumer reads the whole output (to each partition's
end, which for read_committed is the last stable offset): every input record exactly once,
each output partition in its input partition's order; and the group's committed offsets
(require_stable) equal the input's end offsets. Prints STATS (records copied, transactions
committed and aborted, producers rebuilt, errors by name) and fails with the first missing
or duplicated record. Everything is bounded in records and time.

Usage: python3 confluent_kafka_rpw.py BOOTSTRAP INPUT OUTPUT RECORDS [faults]
"""
import faulthandler
import queue
import sys
import threading
import time

from confluent_kafka import (OFFSET_BEGINNING, Consumer, ConsumerGroupTopicPartitions,
                             KafkaError, KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient

COMMITS_BETWEEN_FAULTS = 3
RECORDS_PER_TRANSACTION = 50
LOOP_DEADLINE_S = 80
TIMEOUT_S = 30
TRANSACTION_TIMEOUT_MS = 20000
# A killed node comes back after COMMITS_BETWEEN_FAULTS more commits or this long, whichever
# comes first. The seconds are needed: librdkafka's send_offsets_to_transaction can block,
# past its timeout, until the group coordinator's node returns (see new_producer), so a
# restart that waited for commits would never come.
MAX_DOWN_S = 8
HANG_REPORT_S = 110
# Kafka's transaction.state.log.num.partitions (kraftsim uses the same 50).
TRANSACTION_STATE_PARTITIONS = 50


class Failed(Exception):
    """The check's one-sentence failure."""


def expect(condition, message):
    if not condition:
        raise Failed(message)


def value(i):
    return f"rpw-{i}"


def java_string_hash(s):
    """Java's String.hashCode (over UTF-16 code units), as a signed 32-bit int."""
    h = 0
    units = s.encode("utf-16-be")
    for k in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[k:k + 2], "big")) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def transaction_state_partition(transactional_id):
    """Kafka's Utils.abs(transactionalId.hashCode) % partitions (abs(MIN_VALUE) is 0)."""
    h = java_string_hash(transactional_id)
    return (0 if h == -(1 << 31) else abs(h)) % TRANSACTION_STATE_PARTITIONS


def fill(bootstrap, topic, records):
    """Record i to partition i % partitions, idempotently; returns the input's end offsets."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    partitions = len(admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions)
    expect(partitions > 0, f"{topic} has no partitions")
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5})
    for i in range(records):
        producer.produce(topic, value=value(i).encode(), partition=i % partitions,
                         on_delivery=lambda err, _msg: err is not None and errors.append(err))
        producer.poll(0)
    expect(producer.flush(TIMEOUT_S) == 0, f"filling {topic}: records not delivered in {TIMEOUT_S} s")
    expect(not errors, f"filling {topic}: {errors[:3]}")
    return {p: (records - p + partitions - 1) // partitions for p in range(partitions)}


class FaultPlan:
    """Kill and restart the leader of output-0, the transaction coordinator's node, then the
    group coordinator's node. A kill is asked COMMITS_BETWEEN_FAULTS commits after the last
    restart; its restart COMMITS_BETWEEN_FAULTS commits after the kill or MAX_DOWN_S after
    it, whichever comes first (a watchdog thread asks for an overdue restart while the loop
    is blocked in a call)."""

    def __init__(self, bootstrap, output, group, transactional_id):
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.output, self.group, self.transactional_id = output, group, transactional_id
        self.answers = queue.Queue(maxsize=16)
        # The loop's thread and the watchdog both step the plan.
        self.lock = threading.Lock()
        self.next = 0
        self.killed = None
        self.killed_at = None
        self.due_at = COMMITS_BETWEEN_FAULTS
        self.committed = 0
        self.waiting = False
        self.applied = []
        # Restarts asked for because MAX_DOWN_S passed, not because of commits.
        self.restarts_by_time = 0
        threading.Thread(target=self._read_answers, daemon=True).start()
        threading.Thread(target=self._restart_when_overdue, daemon=True).start()

    def _read_answers(self):
        for line in sys.stdin:
            self.answers.put(line.strip())
        self.answers.put("stdin closed")

    def _restart_when_overdue(self):
        while True:
            time.sleep(0.1)
            with self.lock:
                if self.next == 6 and not self.waiting:
                    return
                self._step(self.committed, restarts_only=True)

    def _leader(self, topic, partition):
        md = self.admin.list_topics(topic, timeout=TIMEOUT_S)
        return md.topics[topic].partitions[partition].leader

    def _take(self, answer, committed):
        expect(answer.startswith("done"), f"the fault driver answered {answer!r}")
        self.applied.append(answer[len("done"):].strip())
        self.waiting = False
        self.due_at = committed + COMMITS_BETWEEN_FAULTS
        # The answer to a kill: the node is down from now.
        self.killed_at = time.monotonic() if self.next % 2 == 1 else None

    def step(self, committed):
        with self.lock:
            self.committed = committed
            self._step(committed, restarts_only=False)

    def _step(self, committed, restarts_only):
        if self.waiting:
            try:
                self._take(self.answers.get_nowait(), committed)
            except queue.Empty:
                pass
            return
        if self.next == 6:
            return
        restart = self.next % 2 == 1
        overdue = restart and time.monotonic() - self.killed_at >= MAX_DOWN_S
        if (restarts_only and not overdue) or (committed < self.due_at and not overdue):
            return
        if restart:
            request = f"restart {self.killed} (the node killed last)"
            self.restarts_by_time += committed < self.due_at
        else:
            if self.next == 0:
                self.killed = self._leader(self.output, 0)
                why = f"leader of {self.output}-0"
            elif self.next == 2:
                partition = transaction_state_partition(self.transactional_id)
                self.killed = self._leader("__transaction_state", partition)
                why = f"transaction coordinator of {self.transactional_id} (__transaction_state-{partition})"
            else:
                described = self.admin.describe_consumer_groups([self.group])[self.group].result(timeout=TIMEOUT_S)
                self.killed = described.coordinator.id
                why = f"group coordinator of {self.group}"
            request = f"kill {self.killed} ({why})"
        print(f"FAULT {request}", flush=True)
        self.waiting = True
        self.next += 1

    def finish(self):
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            with self.lock:
                if not self.waiting:
                    expect(self.next == 6, f"the input ran out with faults still to apply (applied: {self.applied}): "
                                           "give the check more records")
                    break
                try:
                    self._take(self.answers.get(timeout=0.1), 0)
                except queue.Empty:
                    expect(time.monotonic() < deadline, f"the fault driver did not answer within {TIMEOUT_S} s")
        print(f"ok: faults applied: {self.applied}; {self.restarts_by_time} of 3 restarts came "
              f"{MAX_DOWN_S} s after the kill, before {COMMITS_BETWEEN_FAULTS} more commits", flush=True)


class Loop:
    def __init__(self, bootstrap, input_topic, output, group, transactional_id, input_ends, plan):
        self.bootstrap, self.input, self.output = bootstrap, input_topic, output
        self.group, self.transactional_id = group, transactional_id
        self.input_ends, self.plan = input_ends, plan
        self.committed_positions = {}
        self.copied = self.committed = self.aborted = self.rebuilt = 0
        self.errors = {}

    def new_producer(self):
        # enable.sparse.connections=false and a 1 s metadata refresh: a restarted node is
        # learnt within a second and connected to at once, and that connection coming up is
        # what un-sticks send_offsets_to_transaction. librdkafka (2.16) looks the group
        # coordinator up in its coordinator cache, which keeps the killed node's broker
        # handle after a Metadata response without that node (fenced: Kafka's KRaft brokers,
        # like kraftsim's, leave fenced brokers out) decommissioned the handle. The request then waits for
        # that handle to come up, which it never will, and is looked at again only when one
        # of the client's connections goes up or down (rdkafka_coord.c:
        # rd_kafka_coord_req_fsm, re-driven by rd_kafka_coord_rkb_monitor_cb; its timeout,
        # creq_ts_timeout, is never read). With the defaults (sparse connections, metadata
        # every 5 minutes) nothing changes and the call blocks for good.
        producer = Producer({"bootstrap.servers": self.bootstrap,
                             "transactional.id": self.transactional_id,
                             "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
                             "enable.sparse.connections": False,
                             "topic.metadata.refresh.interval.ms": 1000})
        producer.init_transactions(TIMEOUT_S)
        return producer

    def count(self, error):
        name = error.name() if isinstance(error, KafkaError) else type(error).__name__
        self.errors[name] = self.errors.get(name, 0) + 1
        print(f"ok: handled {error}", flush=True)

    def run(self):
        deadline = time.time() + LOOP_DEADLINE_S
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group,
                             "isolation.level": "read_committed", "enable.auto.commit": False,
                             "auto.offset.reset": "earliest"})
        producer = self.new_producer()
        try:
            consumer.subscribe([self.input])
            while self.committed_positions != self.input_ends:
                if time.time() > deadline:
                    raise Failed(f"the loop did not finish within {LOOP_DEADLINE_S} s: committed positions "
                                 f"{self.committed_positions} of {self.input_ends}, {self.committed} committed, "
                                 f"{self.aborted} aborted, faults {self.plan and self.plan.applied}, "
                                 f"errors {self.errors}")
                if self.plan is not None:
                    self.plan.step(self.committed)
                batch = consumer.consume(num_messages=RECORDS_PER_TRANSACTION, timeout=0.1)
                if not batch:
                    continue
                for m in batch:
                    if m.error():
                        raise Failed(f"the consumer read an error: {m.error()}")
                try:
                    self.transact(producer, consumer, batch)
                except KafkaException as e:
                    error = e.args[0]
                    self.count(error)
                    if error.fatal():
                        # Fenced: a new instance takes over.
                        producer = self.rebuild(producer)
                    elif not self.abort(producer):
                        producer = self.rebuild(producer)
                    self.rewind(consumer)
        finally:
            consumer.close()
        if self.plan is not None:
            self.plan.finish()

    def rebuild(self, producer):
        producer.close()
        self.rebuilt += 1
        return self.new_producer()

    def transact(self, producer, consumer, batch):
        producer.begin_transaction()
        read = set()
        for m in batch:
            producer.produce(self.output, value=m.value(), key=m.key(), partition=m.partition())
            read.add(m.partition())
        positions = consumer.position([TopicPartition(self.input, p) for p in sorted(read)])
        self.retrying(lambda: producer.send_offsets_to_transaction(
            positions, consumer.consumer_group_metadata(), TIMEOUT_S))
        if self.plan is not None:
            # A fault asked for here lands while this transaction's records may still be on
            # their way and its EndTxn is about to go.
            self.plan.step(self.committed)
        self.retrying(lambda: producer.commit_transaction(TIMEOUT_S))
        self.committed += 1
        self.copied += len(batch)
        for tp in positions:
            self.committed_positions[tp.partition] = tp.offset

    def retrying(self, call):
        """A retriable error (a timeout: the outcome unknown) retries the same call, as
        librdkafka documents; others go to the caller."""
        for attempt in range(1, 4):
            try:
                return call()
            except KafkaException as e:
                if not e.args[0].retriable() or attempt == 3:
                    raise
                self.count(e.args[0])

    def abort(self, producer):
        """abort_transaction; False when this producer cannot abort (fatal)."""
        try:
            self.retrying(lambda: producer.abort_transaction(TIMEOUT_S))
            self.aborted += 1
            return True
        except KafkaException as e:
            self.count(e.args[0])
            return False

    def rewind(self, consumer):
        """Seeks every assigned partition back to the group's committed offset."""
        assigned = consumer.assignment()
        for tp in consumer.committed(assigned, timeout=TIMEOUT_S):
            consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))


def verify_output(bootstrap, output, records, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": output + "-verifier",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    consumer.assign([TopicPartition(output, p, OFFSET_BEGINNING) for p in range(partitions)])
    by_partition = {p: [] for p in range(partitions)}
    at_end = set()
    deadline = time.time() + TIMEOUT_S
    try:
        while len(at_end) < partitions:
            expect(time.time() < deadline, f"reading {output} back did not reach its end within {TIMEOUT_S} s")
            m = consumer.poll(0.2)
            if m is None:
                continue
            if m.error():
                expect(m.error().code() == KafkaError._PARTITION_EOF, f"reading {output}: {m.error()}")
                at_end.add(m.partition())
                continue
            at_end.discard(m.partition())
            by_partition[m.partition()].append(m.value().decode())
    finally:
        consumer.close()
    seen = {}
    for vs in by_partition.values():
        for v in vs:
            seen[v] = seen.get(v, 0) + 1
    total = sum(len(vs) for vs in by_partition.values())
    for i in range(records):
        n = seen.pop(value(i), 0)
        expect(n != 0, f"{value(i)} lost: it is not in {output} (read_committed read {total} records)")
        expect(n == 1, f"{value(i)} duplicated: {output} holds it {n} times")
    expect(not seen, f"{output} holds records that were never input: {sorted(seen)[:5]}")
    for p, vs in by_partition.items():
        expect(vs == [value(i) for i in range(p, records, partitions)],
               f"{output}-{p} is not input partition {p} in order")
    print(f"ok: read_committed read {records} records from {output}: each input record once, in order", flush=True)


def verify_group_offsets(bootstrap, group, input_topic, input_ends):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = [ConsumerGroupTopicPartitions(group, [TopicPartition(input_topic, p) for p in input_ends])]
    deadline = time.time() + TIMEOUT_S
    while True:
        got = {}
        try:
            result = admin.list_consumer_group_offsets(request, require_stable=True)[group].result(timeout=TIMEOUT_S)
            # A partition still answered UNSTABLE_OFFSET_COMMIT (the last marker not applied
            # yet) carries its error: asked again until every one is stable.
            got = {tp.partition: tp.offset for tp in result.topic_partitions if tp.error is None}
        except KafkaException as e:
            if e.args[0].code() != KafkaError.UNSTABLE_OFFSET_COMMIT:
                raise
        if got == input_ends or time.time() > deadline:
            break
        time.sleep(0.1)
    expect(got == input_ends, f"the group's committed offsets are {got}, want the input's end offsets {input_ends}")
    print(f"ok: the group's committed offsets {got} are the input's end offsets", flush=True)


def main(bootstrap, input_topic, output, records, faults):
    expect(0 < records <= 100_000, f"RECORDS {records}: want 1..100000")
    suffix = f"{time.time_ns():x}"
    group, transactional_id = f"py-rpw-group-{suffix}", f"py-rpw-{suffix}"
    input_ends = fill(bootstrap, input_topic, records)
    print(f"ok: filled {input_topic} with {records} records: end offsets {input_ends}", flush=True)
    plan = FaultPlan(bootstrap, output, group, transactional_id) if faults else None
    loop = Loop(bootstrap, input_topic, output, group, transactional_id, input_ends, plan)
    loop.run()
    print(f"STATS copied={loop.copied} committed={loop.committed} aborted={loop.aborted} "
          f"rebuilt={loop.rebuilt} errors={loop.errors}", flush=True)
    verify_output(bootstrap, output, records, len(input_ends))
    verify_group_offsets(bootstrap, group, input_topic, input_ends)
    faulted = " across a leader kill, a transaction coordinator kill and a group coordinator kill" if faults else ""
    print(f"OUTCOME read-process-write: works: every input record copied exactly once{faulted}, "
          "the group's committed offsets at the input's end", flush=True)


if __name__ == "__main__":
    # Where every thread is, on stderr, if the check is still running when its driver is
    # about to kill it (sim/tests/interop_python.rs gives it 120 s).
    faulthandler.dump_traceback_later(HANG_REPORT_S)
    if len(sys.argv) < 5 or not sys.argv[4].isdigit():
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:] == ["faults"])
    except Failed as e:
        print(f"FAIL read-process-write: {e}", file=sys.stderr)
        sys.exit(1)
