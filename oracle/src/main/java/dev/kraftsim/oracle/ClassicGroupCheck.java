/*
 * A consumer group on the classic protocol (group.protocol=classic: JoinGroup, SyncGroup,
 * Heartbeat, OffsetCommit; KIP-848's protocol is checked in ConsumerProtocolCheck).
 *
 * Member A subscribes to a 4-partition topic, is assigned all four partitions after the
 * first rebalance (group.initial.rebalance.delay.ms, 3000 by default, delays it), reads
 * some records and commits synchronously. Member B then joins: the coordinator answers A's
 * heartbeat with REBALANCE_IN_PROGRESS, both rejoin, and the range assignor splits the
 * partitions two and two. Both read everything and commit; the committed offsets must be
 * what AdminClient.listConsumerGroupOffsets shows, and describeConsumerGroups must show
 * the group Stable with both members while they are in it.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.TopicListing;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks classic-group BOOTSTRAP}. */
final class ClassicGroupCheck {
    private static final int PARTITIONS = 4;
    private static final int RECORDS_PER_PARTITION = 25;
    private static final String OFFSETS_TOPIC = "__consumer_offsets";

    private ClassicGroupCheck() {}

    static KafkaConsumer<String, String> member(String bootstrap, String group, String protocol) {
        Properties p = Check.clientProps(bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (protocol.equals("classic")) {
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        }
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = IdempotentProduceCheck.createTopic(bootstrap, "java-group", PARTITIONS);
        String group = Check.unique("java-classic");
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(Check.clientProps(bootstrap), new StringSerializer(), new StringSerializer())) {
            for (int p = 0; p < PARTITIONS; p++) {
                for (int i = 0; i < RECORDS_PER_PARTITION; i++) {
                    producer.send(new ProducerRecord<>(topic, p, null, "p" + p + "-" + i));
                }
            }
            producer.flush();
        }
        Map<TopicPartition, Long> positions = new HashMap<>();
        try (KafkaConsumer<String, String> a = member(bootstrap, group, "classic");
             KafkaConsumer<String, String> b = member(bootstrap, group, "classic")) {
            a.subscribe(List.of(topic));
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            int read = 0;
            while ((a.assignment().size() < PARTITIONS || read == 0) && System.nanoTime() < deadline) {
                read += a.poll(Duration.ofMillis(200)).count();
            }
            Check.expect(a.assignment().size() == PARTITIONS, "the only member was assigned %s, expected all %d partitions",
                a.assignment(), PARTITIONS);
            Check.expect(read > 0, "the only member read nothing");
            a.commitSync(Duration.ofSeconds(15));
            Check.ok("member A: assigned all %d partitions, read %d records, commitSync", PARTITIONS, read);

            b.subscribe(List.of(topic));
            // One thread polls both: each poll lets a member rejoin or finish its sync.
            Set<TopicPartition> all = new HashSet<>();
            for (int p = 0; p < PARTITIONS; p++) {
                all.add(new TopicPartition(topic, p));
            }
            deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (!split(a.assignment(), b.assignment(), all) && System.nanoTime() < deadline) {
                drain(a, positions);
                drain(b, positions);
            }
            Check.expect(split(a.assignment(), b.assignment(), all),
                "after B joined, the assignments are A=%s B=%s; expected two disjoint halves of %s",
                a.assignment(), b.assignment(), all);
            Check.ok("member B joined: rebalanced to A=%s B=%s", a.assignment(), b.assignment());
            describeStable(bootstrap, group);
            // Read to the end of every partition, then commit.
            deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (!allRead(a, b, all) && System.nanoTime() < deadline) {
                drain(a, positions);
                drain(b, positions);
            }
            Check.expect(allRead(a, b, all), "the two members did not reach the end: A at %s, B at %s",
                positionsOf(a), positionsOf(b));
            a.commitSync(Duration.ofSeconds(15));
            b.commitSync(Duration.ofSeconds(15));
            Check.ok("both members read every partition to offset %d and committed", RECORDS_PER_PARTITION);
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
            ConsumerGroupDescription d = Check.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group),
                "describeConsumerGroups after close");
            Check.expect(d.groupState() == GroupState.EMPTY, "after both members closed, %s is %s, expected Empty",
                group, d.groupState());
            Check.ok("after both members left, %s is %s", group, d.groupState());
            // The group's offsets live in __consumer_offsets, which Admin lists only when
            // asked for internal topics (Metadata's is_internal flag).
            Check.expect(!Check.get(admin.listTopics().names(), "listTopics").contains(OFFSETS_TOPIC),
                "listTopics() names %s, an internal topic", OFFSETS_TOPIC);
            TopicListing offsets = Check.get(admin.listTopics(new ListTopicsOptions().listInternal(true)).namesToListings(),
                "listTopics(listInternal)").get(OFFSETS_TOPIC);
            Check.expect(offsets != null && offsets.isInternal(),
                "listTopics(listInternal=true) shows %s as %s, expected an internal topic", OFFSETS_TOPIC, offsets);
            Check.ok("%s is internal: hidden by listTopics(), listed by listTopics(listInternal)", OFFSETS_TOPIC);
        }
    }

    private static void describeStable(String bootstrap, String group) {
        try (Admin admin = AdminChecks.admin(bootstrap)) {
            ConsumerGroupDescription d = Check.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group),
                "describeConsumerGroups");
            Check.expect(d.groupState() == GroupState.STABLE, "%s is %s with both members in it, expected Stable",
                group, d.groupState());
            Check.expect(d.members().size() == 2, "%s has %d members, expected 2", group, d.members().size());
            Check.expect("range".equals(d.partitionAssignor()) || "cooperative-sticky".equals(d.partitionAssignor()),
                "%s's assignor is %s", group, d.partitionAssignor());
            Check.ok("describeConsumerGroups: %s %s, %d members, assignor %s", group, d.groupState(),
                d.members().size(), d.partitionAssignor());
        }
    }

    static boolean split(Set<TopicPartition> a, Set<TopicPartition> b, Set<TopicPartition> all) {
        Set<TopicPartition> union = new HashSet<>(a);
        union.addAll(b);
        return !a.isEmpty() && !b.isEmpty() && a.size() + b.size() == all.size() && union.equals(all);
    }

    static void drain(KafkaConsumer<String, String> c, Map<TopicPartition, Long> positions) {
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
            positions.merge(new TopicPartition(r.topic(), r.partition()), r.offset() + 1, Math::max);
        }
    }

    static Map<TopicPartition, Long> positionsOf(KafkaConsumer<String, String> c) {
        Map<TopicPartition, Long> out = new HashMap<>();
        for (TopicPartition tp : c.assignment()) {
            out.put(tp, c.position(tp, Duration.ofSeconds(5)));
        }
        return out;
    }

    private static boolean allRead(KafkaConsumer<String, String> a, KafkaConsumer<String, String> b, Set<TopicPartition> all) {
        if (!split(a.assignment(), b.assignment(), all)) {
            return false;
        }
        Map<TopicPartition, Long> pos = positionsOf(a);
        pos.putAll(positionsOf(b));
        return pos.size() == all.size() && pos.values().stream().allMatch(p -> p == RECORDS_PER_PARTITION);
    }
}
