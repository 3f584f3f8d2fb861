package io.dmsserve.config;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * {@code dms.kv-cache.*}: the page pool.
 *
 * @param pageSize tokens per page (each page belongs to one sequence, layer and KV head)
 * @param memory memory for keys, values and slot metadata, allocated at start (on the Java heap for the cpu
 *     backend)
 */
@Validated
@ConfigurationProperties("dms.kv-cache")
public record KvCacheProperties(@DefaultValue("16") @Min(1) @Max(4096) int pageSize,
        @DefaultValue("256MB") DataSize memory) {
}
