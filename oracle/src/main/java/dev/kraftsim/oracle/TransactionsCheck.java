/*
 * A transactional producer (transactional.id, KIP-98). initTransactions() finds the
 * transaction coordinator (FindCoordinator with key type TRANSACTION) and asks it for a
 * producer id (InitProducerId with the transactional id). The producer then commits one
 * transaction and aborts another; a read_committed consumer must read exactly the
 * committed records (the aborted ones are filtered with the aborted-transactions list of
 * its Fetch answers, the undecided ones held back by the last stable offset). Finally a
 * second instance with the same transactional.id fences the first: the first's next
 * commit fails with ProducerFencedException. The Admin lists the id (ListTransactions) and
 * describes it as CompleteCommit (DescribeTransactions).
 *
 * Prints one OUTCOME line: "works: ..." with what was checked, or "refused" with the
 * exact exception. A TimeoutException is a failure of the check.
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
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** {@code ClientChecks transactions BOOTSTRAP}. */
final class TransactionsCheck {
    private TransactionsCheck() {}

    static void run(String bootstrap, String[] args) throws Exception {
        String topic = IdempotentProduceCheck.createTopic(bootstrap, "java-txn", 1);
        String transactionalId = Check.unique("java-txn");
        Properties p = Check.clientProps(bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        KafkaProducer<String, String> first =
            new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
        try {
            first.initTransactions();
            first.beginTransaction();
            for (int i = 0; i < 3; i++) {
                first.send(new ProducerRecord<>(topic, 0, null, "committed-" + i));
            }
            first.commitTransaction();
            first.beginTransaction();
            for (int i = 0; i < 2; i++) {
                first.send(new ProducerRecord<>(topic, 0, null, "aborted-" + i));
            }
            first.flush();
            first.abortTransaction();
            first.beginTransaction();
            first.send(new ProducerRecord<>(topic, 0, null, "committed-3"));
            first.commitTransaction();
        } catch (TimeoutException e) {
            first.close(Duration.ZERO);
            throw new Check.Failed("transactional producer: timed out: " + Check.describe(e), e);
        } catch (RuntimeException e) {
            first.close(Duration.ZERO);
            System.out.println("OUTCOME transactions: refused: " + Check.describe(e));
            return;
        }

        List<String> got = readCommitted(bootstrap, topic, 4);
        Check.expect(
            got.equals(List.of("committed-0", "committed-1", "committed-2", "committed-3")),
            "read_committed read %s, want the four committed records in order", got);

        // A second instance with the same id fences the first.
        String fenced;
        try (KafkaProducer<String, String> second =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            second.initTransactions();
            try {
                first.beginTransaction();
                first.send(new ProducerRecord<>(topic, 0, null, "zombie"));
                first.commitTransaction();
                fenced = "not fenced";
            } catch (ProducerFencedException e) {
                fenced = "fenced";
            } catch (org.apache.kafka.common.KafkaException e) {
                fenced = e.getCause() instanceof ProducerFencedException ? "fenced" : Check.describe(e);
            }
            second.beginTransaction();
            second.send(new ProducerRecord<>(topic, 0, null, "committed-4"));
            second.commitTransaction();
        } finally {
            first.close(Duration.ZERO);
        }
        Check.expect(fenced.equals("fenced"), "the old instance's commit: %s", fenced);
        got = readCommitted(bootstrap, topic, 5);
        Check.expect(got.size() == 5 && got.get(4).equals("committed-4") && !got.contains("zombie"),
            "after fencing, read_committed read %s", got);
        // The admin's view (KIP-664): the id is listed and described as committed.
        try (org.apache.kafka.clients.admin.Admin admin =
                 org.apache.kafka.clients.admin.Admin.create(Check.clientProps(bootstrap))) {
            boolean listed = admin.listTransactions().all().get().stream()
                .anyMatch(t -> t.transactionalId().equals(transactionalId));
            Check.expect(listed, "listTransactions names %s", transactionalId);
            org.apache.kafka.clients.admin.TransactionDescription d =
                admin.describeTransactions(List.of(transactionalId)).description(transactionalId).get();
            Check.expect(d.state() == org.apache.kafka.clients.admin.TransactionState.COMPLETE_COMMIT
                    && d.topicPartitions().isEmpty(),
                "describeTransactions: %s", d);
        }
        System.out.println("OUTCOME transactions: works: committed 4 records and aborted 2, "
            + "read_committed read exactly the committed ones, a second instance fenced the first");
    }

    /** Reads partition 0 from the start at read_committed until {@code want} records came. */
    private static List<String> readCommitted(String bootstrap, String topic, int want) {
        Properties c = Check.clientProps(bootstrap);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<String> got = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Check.TIMEOUT.toNanos();
            while (got.size() < want && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    got.add(r.value());
                }
            }
            // One more poll: nothing beyond what is committed may arrive.
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                got.add(r.value());
            }
        }
        return got;
    }
}
