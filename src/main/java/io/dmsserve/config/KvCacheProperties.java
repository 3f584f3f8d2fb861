package io.dmsserve.config;

import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
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
 *     backend); used unless fraction is set
 * @param fraction when set, the pool takes this share of the memory free once the weights are loaded (device
 *     memory on the cuda backend, the heap on the cpu backend) instead of a fixed memory
 * @param repack whether a head that eviction left with two pages' worth of free slots in the pages it holds is
 *     repacked, its tokens in order, into as few pages as they fill (after a chunked DMS prefill that gives back
 *     about 7/8 of the last chunk's slots; KvCacheManager#commit). On by default: see KvCacheManager.REPACK_DEFAULT
 */
@Validated
@ConfigurationProperties("dms.kv-cache")
public record KvCacheProperties(@DefaultValue("16") @Min(1) @Max(4096) int pageSize,
        @DefaultValue("256MB") DataSize memory, @DecimalMin("0.01") @DecimalMax("0.95") Double fraction,
        @DefaultValue("true") boolean repack) {
}
