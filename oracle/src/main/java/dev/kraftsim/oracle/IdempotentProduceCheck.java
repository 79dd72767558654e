/*
 * The Java producer's defaults since Kafka 3.0 (KIP-679): acks=all and
 * enable.idempotence=true, so the first request after metadata is InitProducerId and every
 * batch carries a producer id, epoch and sequence. N keyed records go to a 3-partition
 * topic; every send must be acknowledged with an offset, the offsets of each partition must
 * be 0..n-1 with no gap or duplicate, and reading the partitions back from the beginning
 * (assign + seekToBeginning, no group) must return each record exactly once, at the offset
 * its acknowledgement named, with its key and value.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks produce BOOTSTRAP [records]}. */
final class IdempotentProduceCheck {
    private IdempotentProduceCheck() {}

    static void run(String bootstrap, String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        String topic = createTopic(bootstrap, "java-idempotent", 3);
        Map<Long, String> byPosition = produce(bootstrap, topic, n);
        readBack(bootstrap, topic, 3, byPosition);
    }

    /** A fresh topic with {@code partitions} partitions and replication factor min(3, brokers). */
    static String createTopic(String bootstrap, String prefix, int partitions) {
        String topic = Check.unique(prefix);
        try (Admin admin = AdminChecks.admin(bootstrap)) {
            int brokers = Check.get(admin.describeCluster().nodes(), "describeCluster").size();
            short rf = (short) Math.min(3, brokers);
            Check.get(admin.createTopics(List.of(new NewTopic(topic, partitions, rf))).all(), "createTopics " + topic);
        }
        return topic;
    }

    /** Position key: partition in the high bits, offset in the low. */
    static long position(int partition, long offset) {
        return ((long) partition << 40) | offset;
    }

    private static Map<Long, String> produce(String bootstrap, String topic, int n) throws Exception {
        Properties p = Check.clientProps(bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        List<Future<RecordMetadata>> acks = new ArrayList<>(n);
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < n; i++) {
                acks.add(producer.send(new ProducerRecord<>(topic, "key-" + i, "value-" + i)));
            }
            producer.flush();
        }
        Map<Long, String> byPosition = new HashMap<>();
        Map<Integer, Integer> perPartition = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            RecordMetadata m;
            try {
                m = acks.get(i).get();
            } catch (Exception e) {
                throw new Check.Failed("record " + i + " was not acknowledged: " + Check.describe(e.getCause()), e);
            }
            Check.expect(m.hasOffset() && m.offset() >= 0, "record %d acknowledged without an offset", i);
            String previous = byPosition.put(position(m.partition(), m.offset()), "value-" + i);
            Check.expect(previous == null, "records %s and value-%d were both acknowledged at %s-%d@%d",
                previous, i, topic, m.partition(), m.offset());
            perPartition.merge(m.partition(), 1, Integer::sum);
        }
        for (Map.Entry<Integer, Integer> e : perPartition.entrySet()) {
            for (long o = 0; o < e.getValue(); o++) {
                Check.expect(byPosition.containsKey(position(e.getKey(), o)),
                    "partition %d: offsets acknowledged are not 0..%d (gap at %d)", e.getKey(), e.getValue() - 1, o);
            }
        }
        Check.ok("idempotent acks=all producer: %d records acknowledged, per partition %s", n, perPartition);
        return byPosition;
    }

    /** Reads every partition from the beginning; every acknowledged record once, in place. */
    static void readBack(String bootstrap, String topic, int partitions, Map<Long, String> expected) {
        Properties p = Check.clientProps(bootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int i = 0; i < partitions; i++) {
                tps.add(new TopicPartition(topic, i));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            Map<Long, String> seen = new HashMap<>();
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (seen.size() < expected.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    long pos = position(r.partition(), r.offset());
                    String want = expected.get(pos);
                    Check.expect(want != null, "read %s at %s-%d@%d, which no acknowledgement named",
                        r.value(), topic, r.partition(), r.offset());
                    Check.expect(want.equals(r.value()), "%s-%d@%d holds %s, acknowledged for %s",
                        topic, r.partition(), r.offset(), r.value(), want);
                    Check.expect(r.key() != null && r.key().equals("key-" + want.substring("value-".length())),
                        "%s-%d@%d has key %s for value %s", topic, r.partition(), r.offset(), r.key(), r.value());
                    Check.expect(seen.put(pos, r.value()) == null, "%s-%d@%d was read twice", topic, r.partition(), r.offset());
                }
            }
            Check.expect(seen.size() == expected.size(), "read back %d of %d acknowledged records", seen.size(), expected.size());
            Check.ok("read back all %d records from %s, each once, at its acknowledged offset", seen.size(), topic);
        }
    }
}
