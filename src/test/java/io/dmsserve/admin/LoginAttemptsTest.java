package io.dmsserve.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LoginAttemptsTest {

    private final AtomicLong now = new AtomicLong(1_000_000);
    private final LoginAttempts attempts = new LoginAttempts(3, Duration.ofSeconds(60), now::get);

    @Test
    void aNameIsLockedForOneAddressAfterTheLimitUntilTheLockoutEnds() {
        for (int i = 0; i < 2; i++) {
            attempts.failed("10.0.0.1", "admin");
        }
        assertThat(attempts.retryAfterSeconds("10.0.0.1", "admin")).as("under the limit").isZero();
        attempts.failed("10.0.0.1", "Admin "); // the same name as typed differently
        assertThat(attempts.retryAfterSeconds("10.0.0.1", "admin")).isEqualTo(60);
        assertThat(attempts.retryAfterSeconds("10.0.0.2", "admin")).as("another address").isZero();
        assertThat(attempts.retryAfterSeconds("10.0.0.1", "viewer")).as("another name").isZero();
        now.addAndGet(59_500);
        assertThat(attempts.retryAfterSeconds("10.0.0.1", "admin")).isEqualTo(1);
        now.addAndGet(600);
        assertThat(attempts.retryAfterSeconds("10.0.0.1", "admin")).as("lockout over").isZero();
        attempts.failed("10.0.0.1", "admin");
        assertThat(attempts.retryAfterSeconds("10.0.0.1", "admin")).as("counting starts again").isZero();
    }

    @Test
    void oneAddressTryingManyNamesIsLockedToo() {
        for (int i = 0; i < 11; i++) {
            attempts.failed("10.0.0.9", "user" + i);
        }
        assertThat(attempts.retryAfterSeconds("10.0.0.9", "fresh")).isZero();
        attempts.failed("10.0.0.9", "user-last");
        assertThat(attempts.retryAfterSeconds("10.0.0.9", "fresh")).as("4 x 3 failures from one address").isEqualTo(60);
    }

    @Test
    void aSuccessClearsItsPair() {
        attempts.failed("10.0.0.1", "admin");
        attempts.failed("10.0.0.1", "admin");
        attempts.succeeded("10.0.0.1", "admin");
        attempts.failed("10.0.0.1", "admin");
        attempts.failed("10.0.0.1", "admin");
        assertThat(attempts.retryAfterSeconds("10.0.0.1", "admin")).isZero();
    }
}
