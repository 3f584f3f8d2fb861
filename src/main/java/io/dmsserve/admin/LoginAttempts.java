package io.dmsserve.admin;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Failed logins counted per (address, user name) and per address: after {@code limit} failures for one name
 * from one address, or {@code 4 × limit} from one address over all names, further attempts are refused for the
 * lockout (counted from the last failure), so a password cannot be guessed quickly and one address cannot try
 * many names. A success clears its pair. In memory: a restart forgets, which is what a lockout of minutes needs.
 */
final class LoginAttempts {

    private final int limit;
    private final long lockoutMillis;
    private final LongSupplier clock;
    private final Map<String, Failures> failures = new ConcurrentHashMap<>();

    private static final class Failures {
        int count;
        long lastMillis;
    }

    LoginAttempts(int limit, Duration lockout, LongSupplier clock) {
        this.limit = limit;
        this.lockoutMillis = lockout.toMillis();
        this.clock = clock;
    }

    /** Seconds until this address may try this name again; 0 when it may now. */
    long retryAfterSeconds(String address, String user) {
        long now = clock.getAsLong();
        long wait = Math.max(wait(pair(address, user), limit, now), wait(address, 4 * limit, now));
        return (wait + 999) / 1000;
    }

    void failed(String address, String user) {
        long now = clock.getAsLong();
        count(pair(address, user), now);
        count(address, now);
        if (failures.size() > 100_000) {
            // Bounded memory under a flood of names: forget what has expired.
            failures.values().removeIf(f -> now - f.lastMillis > lockoutMillis);
        }
    }

    void succeeded(String address, String user) {
        failures.remove(pair(address, user));
    }

    private void count(String key, long now) {
        failures.compute(key, (k, f) -> {
            if (f == null || now - f.lastMillis > lockoutMillis) {
                f = new Failures();
            }
            f.count++;
            f.lastMillis = now;
            return f;
        });
    }

    private long wait(String key, int max, long now) {
        Failures f = failures.get(key);
        if (f == null) {
            return 0;
        }
        synchronized (f) {
            long left = f.lastMillis + lockoutMillis - now;
            return f.count >= max && left > 0 ? left : 0;
        }
    }

    private static String pair(String address, String user) {
        return address + "\u0000" + (user == null ? "" : user.strip().toLowerCase(Locale.ROOT));
    }
}
