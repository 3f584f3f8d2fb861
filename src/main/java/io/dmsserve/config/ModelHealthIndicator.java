package io.dmsserve.config;

import io.dmsserve.engine.Backend;
import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.scheduler.Scheduler;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * The served model: UP while the engine thread runs steps. Part of the readiness group, so a dead engine
 * takes the instance out of a load balancer; its details (model, backend, policy, KV pages, how long loading took
 * and, on a GPU, the weights copied to the device) are shown to authorised users only. Loading runs before the port
 * opens, so its progress while it runs is in the log ("weights to the device: ... (40%)"), and health reports the
 * finished load.
 */
@Component("model")
class ModelHealthIndicator implements HealthIndicator {

    private final ServingModel model;
    private final Scheduler scheduler;
    private final ModelLoad load;
    private final Backend backend;

    ModelHealthIndicator(ServingModel model, Scheduler scheduler, ModelLoad load, Backend backend) {
        this.model = model;
        this.scheduler = scheduler;
        this.load = load;
        this.backend = backend;
    }

    @Override
    public Health health() {
        CacheStatistics cache = scheduler.cacheStatistics();
        Health.Builder health = (scheduler.engineAlive() ? Health.up() : Health.down().withDetail("engine", "stopped"))
                .withDetail("model", model.id())
                .withDetail("backend", model.backend())
                .withDetail("policy", model.policy().toString())
                .withDetail("kvPagesInUse", cache.pagesInUse())
                .withDetail("kvPages", cache.pageCount())
                .withDetail("loaded", load.done())
                .withDetail("loadSeconds", Math.round(load.seconds() * 1000) / 1000.0);
        backend.weightUpload().ifPresent(upload -> health
                .withDetail("weightsToDeviceBytes", upload.bytes())
                .withDetail("weightsToDeviceSeconds", Math.round(upload.seconds() * 1000) / 1000.0));
        return health.build();
    }
}
