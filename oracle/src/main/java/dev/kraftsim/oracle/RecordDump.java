/*
 * What a consumer sees of each record, one line per record, for comparing producers
 * (loadgen against kafka-producer-perf-test): key, value size, header count, timestamp
 * type, timestamp and how far it lies from now.
 *
 *   ClientChecks dump-records BOOTSTRAP TOPIC COUNT
 *
 * Reads every partition of TOPIC from the beginning (no group) until COUNT records arrived.
 * Lines: "record P@O key=null value=100 value_crc=C headers=0 timestampType=CreateTime
 * timestamp=T age_ms=A", C the CRC-32 of the value in hex (two producers that drew the same
 * payloads have the same CRCs).
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.zip.CRC32;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** {@code ClientChecks dump-records BOOTSTRAP TOPIC COUNT}. */
final class RecordDump {
    private RecordDump() {}

    static void run(String bootstrap, String[] args) {
        Check.expect(args.length == 2, "usage: dump-records BOOTSTRAP TOPIC COUNT");
        String topic = args[0];
        int count = Integer.parseInt(args[1]);
        Properties p = Check.clientProps(bootstrap);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c =
                 new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo info : c.partitionsFor(topic, Duration.ofSeconds(15))) {
                tps.add(new TopicPartition(topic, info.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (got.size() < count && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(got::add);
            }
        }
        long now = System.currentTimeMillis();
        for (ConsumerRecord<byte[], byte[]> r : got) {
            CRC32 crc = new CRC32();
            if (r.value() != null) {
                crc.update(r.value());
            }
            System.out.printf("record %d@%d key=%s value=%s value_crc=%08x headers=%d timestampType=%s timestamp=%d age_ms=%d%n",
                r.partition(), r.offset(),
                r.key() == null ? "null" : Integer.toString(r.key().length),
                r.value() == null ? "null" : Integer.toString(r.value().length),
                crc.getValue(),
                r.headers().toArray().length, r.timestampType(), r.timestamp(), now - r.timestamp());
        }
        Check.expect(got.size() >= count, "read %d of %d records from %s", got.size(), count, topic);
    }
}
