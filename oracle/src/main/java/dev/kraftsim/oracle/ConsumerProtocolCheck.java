/*
 * The consumer group protocol of KIP-848 (group.protocol=consumer: ConsumerGroupHeartbeat,
 * api 68, with the assignment computed by the group coordinator's server-side assignor).
 *
 * Member A subscribes to a 4-partition topic and is given all four (no join barrier, no
 * initial rebalance delay), reads and commits (OffsetCommit v9, by member epoch). Member B
 * joins: at A's next heartbeat the coordinator's uniform assignor splits the partitions
 * two and two, A revokes two before B gets them. Both read to the end and commit;
 * describeConsumerGroups (ConsumerGroupDescribe) shows a consumer group, Stable, with both
 * members. B closes (a heartbeat with epoch -1): A gets all four back. A closes; a new
 * member of the group (a restarted application) starts from the committed offsets, which
 * listConsumerGroupOffsets shows too. One OUTCOME line: "works: ..." with what happened.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks consumer-protocol BOOTSTRAP}. */
final class ConsumerProtocolCheck {
    private static final int PARTITIONS = 4;
    private static final int RECORDS_PER_PARTITION = 25;

    private ConsumerProtocolCheck() {}

    static void run(String bootstrap, String[] args) {
        String topic = IdempotentProduceCheck.createTopic(bootstrap, "java-kip848", PARTITIONS);
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(Check.clientProps(bootstrap), new StringSerializer(), new StringSerializer())) {
            for (int p = 0; p < PARTITIONS; p++) {
                for (int i = 0; i < RECORDS_PER_PARTITION; i++) {
                    producer.send(new ProducerRecord<>(topic, p, null, "p" + p + "-" + i));
                }
            }
            producer.flush();
        }
        String group = Check.unique("java-kip848");
        Set<TopicPartition> all = new HashSet<>();
        for (int p = 0; p < PARTITIONS; p++) {
            all.add(new TopicPartition(topic, p));
        }
        Map<TopicPartition, Long> positions = new HashMap<>();
        try (KafkaConsumer<String, String> a = ClassicGroupCheck.member(bootstrap, group, "consumer")) {
            a.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while ((!a.assignment().equals(all) || positions.isEmpty()) && System.nanoTime() < deadline) {
                ClassicGroupCheck.drain(a, positions);
            }
            Check.expect(a.assignment().equals(all), "the only member was assigned %s, expected %s", a.assignment(), all);
            Check.expect(!positions.isEmpty(), "the only member read nothing");
            a.commitSync(Duration.ofSeconds(15));
            Check.ok("member A: assigned all %d partitions, read, commitSync", PARTITIONS);

            try (KafkaConsumer<String, String> b = ClassicGroupCheck.member(bootstrap, group, "consumer")) {
                b.subscribe(List.of(topic));
                deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
                while (!ClassicGroupCheck.split(a.assignment(), b.assignment(), all) && System.nanoTime() < deadline) {
                    ClassicGroupCheck.drain(a, positions);
                    ClassicGroupCheck.drain(b, positions);
                }
                Check.expect(ClassicGroupCheck.split(a.assignment(), b.assignment(), all),
                    "after B joined, the assignments are A=%s B=%s; expected two disjoint halves of %s",
                    a.assignment(), b.assignment(), all);
                Check.expect(a.assignment().size() == 2, "uniform gave A %s and B %s, expected two each",
                    a.assignment(), b.assignment());
                Check.ok("member B joined: rebalanced to A=%s B=%s", a.assignment(), b.assignment());
                deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
                while (!atEnd(a, b) && System.nanoTime() < deadline) {
                    ClassicGroupCheck.drain(a, positions);
                    ClassicGroupCheck.drain(b, positions);
                }
                Check.expect(atEnd(a, b), "the two members did not reach the end: A at %s, B at %s",
                    ClassicGroupCheck.positionsOf(a), ClassicGroupCheck.positionsOf(b));
                a.commitSync(Duration.ofSeconds(15));
                b.commitSync(Duration.ofSeconds(15));
                Check.ok("both members read every partition to offset %d and committed", RECORDS_PER_PARTITION);
                describe(bootstrap, group, GroupState.STABLE, 2);
            }
            // B has left: A gets its partitions back.
            deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (!a.assignment().equals(all) && System.nanoTime() < deadline) {
                ClassicGroupCheck.drain(a, positions);
            }
            Check.expect(a.assignment().equals(all), "after B left, A has %s, expected %s", a.assignment(), all);
            Check.ok("member B left: A has all %d partitions again", PARTITIONS);
        }
        try (Admin admin = AdminChecks.admin(bootstrap)) {
            Map<TopicPartition, OffsetAndMetadata> committed =
                Check.get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata(), "listConsumerGroupOffsets");
            Check.expect(committed.size() == PARTITIONS, "listConsumerGroupOffsets shows %s, expected %d partitions",
                committed, PARTITIONS);
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : committed.entrySet()) {
                Check.expect(e.getValue().offset() == RECORDS_PER_PARTITION,
                    "%s committed at %d, expected %d", e.getKey(), e.getValue().offset(), RECORDS_PER_PARTITION);
            }
            Check.ok("listConsumerGroupOffsets(%s): every partition at %d", group, RECORDS_PER_PARTITION);
        }
        describe(bootstrap, group, GroupState.EMPTY, 0);
        // A restarted application: a new member starts where the group committed.
        try (KafkaConsumer<String, String> c = ClassicGroupCheck.member(bootstrap, group, "consumer")) {
            c.subscribe(List.of(topic));
            Map<TopicPartition, Long> reread = new HashMap<>();
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (!c.assignment().equals(all) && System.nanoTime() < deadline) {
                ClassicGroupCheck.drain(c, reread);
            }
            Check.expect(c.assignment().equals(all), "the restarted member was assigned %s, expected %s",
                c.assignment(), all);
            Map<TopicPartition, Long> at = ClassicGroupCheck.positionsOf(c);
            Check.expect(reread.isEmpty() && at.values().stream().allMatch(p -> p == RECORDS_PER_PARTITION),
                "the restarted member re-read %s and is at %s, expected to start at the committed %d",
                reread, at, RECORDS_PER_PARTITION);
            Check.ok("a restarted member starts at the committed offsets %s", at);
        }
        System.out.println("OUTCOME consumer-protocol: works: split 2+2 when B joined, 4 back to A when B left, "
            + "commits read back after a restart");
    }

    private static boolean atEnd(KafkaConsumer<String, String> a, KafkaConsumer<String, String> b) {
        Map<TopicPartition, Long> pos = ClassicGroupCheck.positionsOf(a);
        pos.putAll(ClassicGroupCheck.positionsOf(b));
        return pos.size() == PARTITIONS && pos.values().stream().allMatch(p -> p == RECORDS_PER_PARTITION);
    }

    private static void describe(String bootstrap, String group, GroupState state, int members) {
        try (Admin admin = AdminChecks.admin(bootstrap)) {
            ConsumerGroupDescription d = Check.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group),
                "describeConsumerGroups");
            Check.expect(d.type() == GroupType.CONSUMER, "%s is a %s group, expected CONSUMER", group, d.type());
            Check.expect(d.groupState() == state, "%s is %s, expected %s", group, d.groupState(), state);
            Check.expect(d.members().size() == members, "%s has %d members, expected %d", group, d.members().size(), members);
            Check.ok("describeConsumerGroups: %s %s %s, %d members, assignor %s", group, d.type(), d.groupState(),
                d.members().size(), d.partitionAssignor());
        }
    }
}
