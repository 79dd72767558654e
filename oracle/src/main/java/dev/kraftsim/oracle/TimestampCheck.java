/*
 * Record timestamps are Unix milliseconds (KIP-32). A record without a timestamp gets the
 * producer's clock at send() as CreateTime (message.timestamp.type=CreateTime, the
 * default); one with a timestamp keeps it. The broker stores them as sent and a consumer
 * reads them back as CREATE_TIME. ListOffsets by timestamp (KIP-79, offsetsForTimes)
 * answers the first *record*, not batch, whose timestamp is at least the target, and
 * OffsetSpec.maxTimestamp (KIP-734, ListOffsets v7) the record with the largest timestamp.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks timestamps BOOTSTRAP}. */
final class TimestampCheck {
    /** 2020-01-01T00:00:00Z: any Unix-ms timestamp of today is above it. */
    static final long YEAR_2020_MS = 1_577_836_800_000L;

    private TimestampCheck() {}

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = IdempotentProduceCheck.createTopic(bootstrap, "java-timestamps", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long before = System.currentTimeMillis();
        long twoHoursAgo = before - 7_200_000L;
        long oneHourAgo = before - 3_600_000L;
        // One batch (linger): two explicit timestamps, then three stamped by the producer.
        List<ProducerRecord<String, String>> records = List.of(
            new ProducerRecord<>(topic, 0, twoHoursAgo, null, "two-hours-ago"),
            new ProducerRecord<>(topic, 0, oneHourAgo, null, "one-hour-ago"),
            new ProducerRecord<>(topic, 0, null, "now-0"),
            new ProducerRecord<>(topic, 0, null, "now-1"),
            new ProducerRecord<>(topic, 0, null, "now-2"));
        Properties p = Check.clientProps(bootstrap);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "100");
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (ProducerRecord<String, String> r : records) {
                acks.add(producer.send(r));
            }
            producer.flush();
        }
        long after = System.currentTimeMillis();
        for (int i = 0; i < acks.size(); i++) {
            RecordMetadata m = acks.get(i).get();
            Check.expect(m.offset() == i, "record %d acknowledged at offset %d", i, m.offset());
        }
        long newest = consume(bootstrap, tp, before, after, twoHoursAgo, oneHourAgo);
        try (Admin admin = AdminChecks.admin(bootstrap)) {
            // The first record at or after 90 minutes ago is offset 1, inside the first batch.
            long ninetyMinutesAgo = before - 5_400_000L;
            ListOffsetsResultInfo byTime = Check.get(
                admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(ninetyMinutesAgo))).all(), "listOffsets by time").get(tp);
            Check.expect(byTime.offset() == 1 && byTime.timestamp() == oneHourAgo,
                "ListOffsets for timestamp %d answered offset %d (timestamp %d); Kafka answers the first record at or after it: offset 1 (timestamp %d)",
                ninetyMinutesAgo, byTime.offset(), byTime.timestamp(), oneHourAgo);
            ListOffsetsResultInfo future = Check.get(
                admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(after + 3_600_000L))).all(), "listOffsets after the end").get(tp);
            Check.expect(future.offset() == -1, "ListOffsets for a timestamp after every record answered offset %d, expected -1",
                future.offset());
            ListOffsetsResultInfo max = Check.get(
                admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).all(), "listOffsets max timestamp").get(tp);
            Check.expect(max.timestamp() == newest, "ListOffsets max timestamp answered timestamp %d (offset %d), the newest record has %d",
                max.timestamp(), max.offset(), newest);
            Check.ok("listOffsets: by timestamp -> offset %d, past the end -> -1, max timestamp -> offset %d", byTime.offset(), max.offset());
        }
        try (KafkaConsumer<String, String> consumer = consumer(bootstrap)) {
            Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(Map.of(tp, before - 5_400_000L));
            Check.expect(found.get(tp) != null && found.get(tp).offset() == 1,
                "consumer offsetsForTimes answered %s, expected offset 1", found.get(tp));
        }
    }

    private static KafkaConsumer<String, String> consumer(String bootstrap) {
        Properties c = Check.clientProps(bootstrap);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        return new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer());
    }

    /** Reads the five records back; returns the newest timestamp. */
    private static long consume(String bootstrap, TopicPartition tp, long before, long after,
                                long twoHoursAgo, long oneHourAgo) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = consumer(bootstrap)) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (got.size() < 5 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(got::add);
            }
        }
        Check.expect(got.size() == 5, "read back %d of 5 records", got.size());
        long newest = Long.MIN_VALUE;
        for (ConsumerRecord<String, String> r : got) {
            Check.expect(r.timestampType() == TimestampType.CREATE_TIME,
                "%s has timestamp type %s, expected CreateTime", r.value(), r.timestampType());
            Check.expect(r.timestamp() > YEAR_2020_MS, "%s has timestamp %d: not Unix milliseconds", r.value(), r.timestamp());
            long want = switch (r.value()) {
                case "two-hours-ago" -> twoHoursAgo;
                case "one-hour-ago" -> oneHourAgo;
                default -> -1;
            };
            if (want >= 0) {
                Check.expect(r.timestamp() == want, "%s has timestamp %d, sent with %d", r.value(), r.timestamp(), want);
            } else {
                Check.expect(r.timestamp() >= before && r.timestamp() <= after,
                    "%s has CreateTime %d, outside its send window [%d, %d]", r.value(), r.timestamp(), before, after);
            }
            newest = Math.max(newest, r.timestamp());
        }
        Check.ok("5 records read back with CreateTime in Unix ms (explicit ones kept, the rest within [%d, %d])", before, after);
        return newest;
    }
}
