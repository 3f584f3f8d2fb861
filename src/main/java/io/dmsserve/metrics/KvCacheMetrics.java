package io.dmsserve.metrics;

import static io.dmsserve.metrics.MetricNames.*;

import io.dmsserve.engine.Backend;
import io.dmsserve.engine.DeviceMemory;
import io.dmsserve.kvcache.HeadReadings;
import io.dmsserve.kvcache.KvCacheManager;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * The KV cache's meters: per layer (and, opted in, per layer and KV head) live, seen and evicted tokens, flag
 * decisions, pages; the pool. Every value is read from the bookkeeping ({@link KvCacheManager}) at scrape
 * time, one atomic read each, so nothing here runs on the engine's step path.
 */
public final class KvCacheMetrics implements MeterBinder {

    private final KvCacheManager cache;
    private final Backend backend;
    private final long bytesPerPage;
    private final boolean perHead;
    private final Tags model;
    // Micrometer holds the object a meter reads (here always the cache, which lives as long as the server)
    // only weakly, but the function strongly: the functions capture these readers.
    private final LayerReadings[] layers;
    private final HeadReadings[][] heads; // (layer, kvHead)

    public KvCacheMetrics(KvCacheManager cache, Backend backend, String model, boolean perHead) {
        this.cache = cache;
        this.layers = new LayerReadings[cache.layers()];
        this.heads = new HeadReadings[cache.layers()][cache.kvHeads()];
        for (int l = 0; l < layers.length; l++) {
            for (int h = 0; h < cache.kvHeads(); h++) {
                heads[l][h] = cache.readings(l, h);
            }
            layers[l] = new LayerReadings(heads[l]);
        }
        this.backend = backend;
        this.bytesPerPage = backend.kvBytesPerPage(cache.pageSize());
        this.perHead = perHead;
        this.model = Tags.of(MODEL, model);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        for (int l = 0; l < cache.layers(); l++) {
            bindLayer(registry, l);
        }
        Gauge.builder(COMPRESSION, cache, c -> ratio(sum(HeadReadings::seenTokens), sum(HeadReadings::liveTokens)))
                .tags(model).description("Tokens the open sequences stored over tokens still held, all layers"
                        + " (NaN while nothing is held)")
                .register(registry);
        Gauge.builder(CACHE_USAGE, cache, c -> (double) c.pagesInUse() / c.pageCount()).tags(model)
                .description("Share of the KV pool's pages in use, 0 to 1").register(registry);
        Gauge.builder(POOL_PAGES_USED, cache, KvCacheManager::pagesInUse).tags(model)
                .description("KV pool pages in use").register(registry);
        Gauge.builder(POOL_PAGES_TOTAL, cache, KvCacheManager::pageCount).tags(model)
                .description("KV pool pages").register(registry);
        Gauge.builder(POOL_BYTES_USED, cache, c -> (double) c.pagesInUse() * bytesPerPage).tags(model)
                .baseUnit("bytes").description("Memory of the KV pool pages in use").register(registry);
        Gauge.builder(POOL_BYTES_TOTAL, cache, c -> (double) c.pageCount() * bytesPerPage).tags(model)
                .baseUnit("bytes").description("Memory of the KV pool").register(registry);
        if (backend.deviceMemory().isPresent()) {
            Gauge.builder(DEVICE_MEMORY_USED, backend, b -> device(b).map(DeviceMemory::usedBytes).orElse(-1L))
                    .tags(model).tag(BACKEND, backend.name()).baseUnit("bytes")
                    .description("Memory in use on the device, by anything").register(registry);
            Gauge.builder(DEVICE_MEMORY_TOTAL, backend, b -> device(b).map(DeviceMemory::totalBytes).orElse(-1L))
                    .tags(model).tag(BACKEND, backend.name()).baseUnit("bytes")
                    .description("Memory of the device").register(registry);
        }
    }

    private void bindLayer(MeterRegistry registry, int layer) {
        Tags tags = model.and(LAYER, Integer.toString(layer));
        LayerReadings readings = layers[layer];
        Gauge.builder(LAYER_LIVE, cache, c -> readings.sum(HeadReadings::liveTokens)).tags(tags)
                .description("KV tokens stored now in the layer, over its KV heads and the open sequences")
                .register(registry);
        FunctionCounter.builder(LAYER_EVICTED, cache, c -> readings.sum(HeadReadings::evictedTokens)).tags(tags)
                .description("KV tokens evicted from the layer, over its KV heads").register(registry);
        FunctionCounter.builder(LAYER_FLAGS, cache, c -> readings.sum(HeadReadings::flagDecisions)).tags(tags)
                .description("DMS decisions in the layer that flagged a token for eviction, over its KV heads")
                .register(registry);
        Gauge.builder(LAYER_SEEN, cache, c -> readings.sum(HeadReadings::seenTokens)).tags(tags)
                .description("KV tokens the open sequences stored in the layer, evicted since or not, over its"
                        + " KV heads")
                .register(registry);
        Gauge.builder(LAYER_COMPRESSION, cache,
                c -> ratio(readings.sum(HeadReadings::seenTokens), readings.sum(HeadReadings::liveTokens))).tags(tags)
                .description("Seen over live KV tokens of the layer (NaN while nothing is held)").register(registry);
        Gauge.builder(LAYER_PAGES, cache, c -> readings.sum(HeadReadings::pages)).tags(tags)
                .description("KV pool pages the layer holds").register(registry);
        Gauge.builder(LAYER_OCCUPANCY, cache, c -> (double) readings.sum(HeadReadings::pages) / c.pageCount())
                .tags(tags).description("Share of the KV pool's pages the layer holds, 0 to 1").register(registry);
        if (perHead) {
            for (int h = 0; h < cache.kvHeads(); h++) {
                HeadReadings head = heads[layer][h];
                Tags headTags = tags.and(KV_HEAD, Integer.toString(h));
                Gauge.builder(HEAD_LIVE, cache, c -> head.liveTokens()).tags(headTags)
                        .description("KV tokens stored now in the layer's KV head, over the open sequences")
                        .register(registry);
                FunctionCounter.builder(HEAD_EVICTED, cache, c -> head.evictedTokens()).tags(headTags)
                        .description("KV tokens evicted from the layer's KV head").register(registry);
            }
        }
    }

    private long sum(ToLongFunction<HeadReadings> value) {
        long total = 0;
        for (LayerReadings layer : layers) {
            total += layer.sum(value);
        }
        return total;
    }

    private static double ratio(long seen, long live) {
        return live == 0 ? Double.NaN : (double) seen / live;
    }

    private static Optional<DeviceMemory> device(Backend backend) {
        return backend.deviceMemory();
    }

    /** The KV heads of one layer, read together. */
    private static final class LayerReadings {

        private final HeadReadings[] heads;

        LayerReadings(HeadReadings[] heads) {
            this.heads = heads;
        }

        long sum(ToLongFunction<HeadReadings> value) {
            long total = 0;
            for (HeadReadings head : heads) {
                total += value.applyAsLong(head);
            }
            return total;
        }
    }
}
