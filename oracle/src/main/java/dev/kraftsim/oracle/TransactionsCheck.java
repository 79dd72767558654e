/*
 * A transactional producer (transactional.id, KIP-98). initTransactions() finds the
 * transaction coordinator (FindCoordinator with key type TRANSACTION) and asks it for a
 * producer id (InitProducerId with the transactional id). A cluster without transactions
 * must say so: the client turns a non-retriable FindCoordinator error into a fatal
 * KafkaException carrying the broker's error message, while a retriable one
 * (COORDINATOR_NOT_AVAILABLE) makes it retry until max.block.ms and time out, which tells
 * the user nothing.
 *
 * Prints one OUTCOME line: "works" (a transaction committed and read_committed reads it)
 * or "refused" with the exact exception. A TimeoutException is a failure of the check.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks transactions BOOTSTRAP}. */
final class TransactionsCheck {
    private TransactionsCheck() {}

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = IdempotentProduceCheck.createTopic(bootstrap, "java-txn", 1);
        Properties p = Check.clientProps(bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, Check.unique("java-txn"));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            try {
                producer.initTransactions();
                producer.beginTransaction();
                for (int i = 0; i < 3; i++) {
                    producer.send(new ProducerRecord<>(topic, 0, null, "txn-" + i));
                }
                producer.commitTransaction();
            } catch (TimeoutException e) {
                throw new Check.Failed("transactional producer: timed out instead of failing clearly: "
                    + Check.describe(e), e);
            } catch (RuntimeException e) {
                System.out.println("OUTCOME transactions: refused: " + Check.describe(e));
                return;
            }
        }
        Properties c = Check.clientProps(bootstrap);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (got.size() < 3 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(got::add);
            }
        }
        Check.expect(got.size() == 3, "read_committed read %d of 3 committed transactional records", got.size());
        System.out.println("OUTCOME transactions: works: committed 3 records, read_committed read them");
    }
}
