package io.dmsserve.config;

import io.dmsserve.scheduler.SchedulerSettings;
import jakarta.validation.constraints.Min;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code dms.scheduler.*}: continuous batching.
 *
 * @param maxWaiting requests queued beyond the running batch's free places; more get 429 with Retry-After
 * @param maxRunning sequences decoding together in one batch
 * @param stepTokens tokens per engine step: decode tokens first, prefill chunks in what is left (at least a
 *     quarter of it)
 * @param deadline longest time a request may take
 * @param overlap submit each step of an unchanged batch before reading the one before (decode, the sampled tokens
 *     fed back on the device; the next prompt chunk of sequences that never evict): the host's work for a step
 *     overlaps the device's for the one before
 */
@Validated
@ConfigurationProperties("dms.scheduler")
public record SchedulerProperties(@DefaultValue("512") @Min(0) int maxWaiting,
        @DefaultValue("256") @Min(1) int maxRunning, @DefaultValue("256") @Min(1) int stepTokens,
        @DefaultValue("10m") Duration deadline, @DefaultValue("true") boolean overlap) {

    public SchedulerSettings settings() {
        return new SchedulerSettings(maxWaiting, maxRunning, stepTokens, deadline, overlap);
    }
}
