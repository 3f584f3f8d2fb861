package io.dmsserve.config;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code dms.metrics.*}: the server's meters on /actuator/prometheus (docs/metrics.md).
 *
 * @param enabled register the dms_* meters (KV cache, scheduler, requests, model); off leaves only the JVM's,
 *     and takes the timing hooks off the engine's step path (how the metrics cost is measured)
 * @param perHead also export live and evicted tokens per layer and KV head (layers × KV heads series each,
 *     288 for Qwen3-8B); off by default for the cardinality
 */
@ConfigurationProperties("dms.metrics")
public record MetricsProperties(@DefaultValue("true") boolean enabled, @DefaultValue("false") boolean perHead) {
}
