/*
 * kraftsim, seen by Apache Kafka's own Java client (kafka-clients 4.4).
 *
 *   java -cp $(cat oracle/target/classpath.txt) dev.kraftsim.oracle.ClientChecks CHECK BOOTSTRAP [ARGS]
 *
 * Each check drives one concern through the public client API, as an application would,
 * and compares what it sees with what a real Kafka 4.4 cluster answers. Exit status: 0 the
 * check passed; 1 it failed (the first line on stderr says what differed); 2 usage; 3 it
 * did not finish within its deadline (a thread dump follows: a client that hangs instead of
 * failing clearly is itself a failure). The same checks run against a real Kafka cluster
 * must pass too: that is how they are known to test Kafka's behaviour and not kraftsim's.
 */
package dev.kraftsim.oracle;

import java.util.LinkedHashMap;
import java.util.Map;

/** The dispatcher: {@code ClientChecks <check> <bootstrap> [args]}. */
public final class ClientChecks {
    /** A check's body. */
    @FunctionalInterface
    interface Body {
        void run(String bootstrap, String[] args) throws Exception;
    }

    /** Every check, by the name the command line uses. */
    static final Map<String, Body> CHECKS = new LinkedHashMap<>();

    static {
        CHECKS.put("admin", AdminChecks::run);
        CHECKS.put("produce", IdempotentProduceCheck::run);
        CHECKS.put("timestamps", TimestampCheck::run);
        CHECKS.put("classic-group", ClassicGroupCheck::run);
        CHECKS.put("consumer-protocol", ConsumerProtocolCheck::run);
        CHECKS.put("transactions", TransactionsCheck::run);
        CHECKS.put("read-process-write", ReadProcessWriteCheck::run);
        CHECKS.put("dump-records", RecordDump::run);
    }

    /** How long one check may run before it counts as hung. */
    static final long DEADLINE_MS = 120_000;

    private ClientChecks() {}

    public static void main(String[] argv) {
        if (argv.length < 2 || !CHECKS.containsKey(argv[0])) {
            System.err.println("usage: ClientChecks <check> <bootstrap.servers> [args]");
            System.err.println("checks: " + String.join(", ", CHECKS.keySet()));
            System.exit(2);
        }
        String name = argv[0];
        String[] rest = new String[argv.length - 2];
        System.arraycopy(argv, 2, rest, 0, rest.length);
        startWatchdog(name);
        try {
            CHECKS.get(name).run(argv[1], rest);
        } catch (Check.Failed e) {
            System.err.println("FAIL " + name + ": " + e.getMessage());
            if (e.getCause() != null) {
                e.getCause().printStackTrace();
            }
            System.exit(1);
        } catch (Throwable t) {
            System.err.println("FAIL " + name + ": unexpected " + Check.describe(t));
            t.printStackTrace();
            System.exit(1);
        }
        System.out.println("PASS " + name);
        // Client threads (a closed client's are gone, but be sure) must not keep us alive.
        System.exit(0);
    }

    /** Exits with status 3 and every thread's stack if the check outlives its deadline. */
    private static void startWatchdog(String name) {
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(DEADLINE_MS);
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("FAIL " + name + ": still running after " + DEADLINE_MS + " ms (hung)");
            Thread.getAllStackTraces().forEach((thread, stack) -> {
                System.err.println("\"" + thread.getName() + "\"");
                for (StackTraceElement frame : stack) {
                    System.err.println("    at " + frame);
                }
            });
            Runtime.getRuntime().halt(3);
        }, "watchdog");
        t.setDaemon(true);
        t.start();
    }
}
