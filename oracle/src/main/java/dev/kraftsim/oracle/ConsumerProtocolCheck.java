/*
 * The consumer group protocol of KIP-848 (group.protocol=consumer: ConsumerGroupHeartbeat,
 * api 68, with the assignment computed by the group coordinator). Kafka 4.x brokers serve
 * it by default; a broker that does not must make the Java client fail clearly, not spin.
 *
 * The client learns what a broker speaks from ApiVersions: when ConsumerGroupHeartbeat is
 * missing, the AsyncKafkaConsumer's heartbeat manager fails poll() with an
 * UnsupportedVersionException that tells the user to set group.protocol=classic. This check
 * subscribes, polls for up to 30 s, and prints one OUTCOME line: "works" (it read the
 * records) or "refused" with the exact exception. A poll that neither reads nor fails
 * within the deadline is a failure: the client is hanging.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks consumer-protocol BOOTSTRAP}. */
final class ConsumerProtocolCheck {
    private static final int RECORDS = 10;

    private ConsumerProtocolCheck() {}

    static void run(String bootstrap, String[] args) {
        String topic = IdempotentProduceCheck.createTopic(bootstrap, "java-kip848", 2);
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(Check.clientProps(bootstrap), new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < RECORDS; i++) {
                producer.send(new ProducerRecord<>(topic, "v" + i));
            }
            producer.flush();
        }
        String group = Check.unique("java-kip848");
        int read = 0;
        Throwable refused = null;
        long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
        try (KafkaConsumer<String, String> c = ClassicGroupCheck.member(bootstrap, group, "consumer")) {
            c.subscribe(List.of(topic));
            while (read < RECORDS && System.nanoTime() < deadline) {
                read += c.poll(Duration.ofMillis(200)).count();
            }
        } catch (TimeoutException e) {
            throw new Check.Failed("group.protocol=consumer: the client timed out instead of failing clearly: "
                + Check.describe(e), e);
        } catch (RuntimeException e) {
            refused = e;
        }
        if (refused != null) {
            System.out.println("OUTCOME consumer-protocol: refused: " + Check.describe(refused));
            return;
        }
        Check.expect(read >= RECORDS, "group.protocol=consumer: read %d of %d records in %d s without any error (hung)",
            read, RECORDS, Check.TIMEOUT.toSeconds());
        System.out.println("OUTCOME consumer-protocol: works: read " + read + " records");
    }
}
