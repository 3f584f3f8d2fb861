package io.dmsserve.config;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code dms.model.*}: which checkpoint to serve and how DMS treats it.
 *
 * @param path a Hugging Face checkpoint directory; empty serves the small model embedded in the jar
 * @param name the model id clients use; defaults to the directory name
 * @param policy eviction policy: {@code auto} (dms for a DMS checkpoint, else none), {@code dms}, {@code none}
 * @param threshold DMS decision threshold (0 as in the release); higher evicts less
 * @param threads CPU worker threads; 0 uses every core
 */
@Validated
@ConfigurationProperties("dms.model")
public record ModelProperties(String path, String name, @DefaultValue("auto") @NotBlank String policy,
        @DefaultValue("0") float threshold, @DefaultValue("0") @Min(0) int threads) {

    public int effectiveThreads() {
        return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }
}
