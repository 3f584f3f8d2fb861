package io.dmsserve.config;

import jakarta.validation.constraints.Min;
import java.util.Locale;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code dms.cpu.*}: the CPU backend.
 *
 * @param threads worker threads for matrix products and attention; 0 uses every core
 * @param kernels inner loops: auto (the JDK Vector API when the JVM has jdk.incubator.vector and C2, else
 *     plain loops), scalar, or vector (an error where the Vector API cannot be used)
 */
@Validated
@ConfigurationProperties("dms.cpu")
public record CpuProperties(@DefaultValue("0") @Min(0) int threads, @DefaultValue("auto") Kernels kernels) {

    /** Inner-loop implementations of the CPU backend. */
    public enum Kernels {
        AUTO, SCALAR, VECTOR;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public int effectiveThreads() {
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }
}
