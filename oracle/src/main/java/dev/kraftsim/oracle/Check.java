/*
 * What every check shares: how a failure is reported, how long anything may take, and the
 * client settings common to all of them.
 *
 * A check either returns (success) or throws Check.Failed with one sentence saying what
 * differed from what Apache Kafka 4.4 would have done. Every wait is bounded: a Java client
 * that retries forever is a failure of the cluster's answers (it should have been told
 * clearly), so nothing here blocks longer than TIMEOUT.
 */
package dev.kraftsim.oracle;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.KafkaFuture;

/** Helpers for the checks; see ClientChecks for the list. */
public final class Check {
    /** The longest any one admin call or wait may take. */
    public static final Duration TIMEOUT = Duration.ofSeconds(30);

    private Check() {}

    /** A check's failure: one sentence, the cause attached. */
    public static final class Failed extends RuntimeException {
        public Failed(String message) {
            super(message);
        }

        public Failed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Fails with the formatted message unless {@code condition} holds. */
    public static void expect(boolean condition, String format, Object... args) {
        if (!condition) {
            throw new Failed(String.format(format, args));
        }
    }

    /** The future's value within TIMEOUT; a failure names {@code what} and the cause. */
    public static <T> T get(KafkaFuture<T> future, String what) {
        try {
            return future.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new Failed(what + " failed: " + describe(cause), cause);
        } catch (TimeoutException e) {
            throw new Failed(what + " did not complete within " + TIMEOUT.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failed(what + " was interrupted", e);
        }
    }

    /** Polls {@code done} every 100 ms until it holds or TIMEOUT passes. */
    public static void waitUntil(String what, BooleanSupplier done) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new Failed("timed out after " + TIMEOUT.toSeconds() + " s waiting until " + what);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failed("interrupted waiting until " + what, e);
            }
        }
    }

    /** "ExceptionClass: message", as a report line shows it. */
    public static String describe(Throwable t) {
        return t.getClass().getName() + ": " + t.getMessage();
    }

    /** A name no earlier run used, so checks can share one cluster. */
    public static String unique(String prefix) {
        return prefix + "-" + Long.toHexString(System.nanoTime());
    }

    /** Client settings every check starts from. */
    public static Properties clientProps(String bootstrap) {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(CommonClientConfigs.CLIENT_ID_CONFIG, "kraftsim-oracle");
        return p;
    }

    /** A progress line on stdout, which the Rust wrappers show on failure. */
    public static void ok(String format, Object... args) {
        System.out.println("ok: " + String.format(format, args));
    }
}
