package io.dmsserve.config;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.engine.simd.Kernels;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.tokenizer.Tokenizer;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.StringUtils;

/** Loads the configured checkpoint (or the embedded one) and starts the CPU backend on it. */
@Configuration(proxyBeanMethods = false)
class EngineConfiguration {

    private static final Logger log = LoggerFactory.getLogger(EngineConfiguration.class);

    @Bean(destroyMethod = "")
    ServingModel servingModel(ModelProperties model, KvCacheProperties kvCache) {
        boolean embedded = !StringUtils.hasText(model.path());
        Path directory = embedded ? EmbeddedModel.extract() : Path.of(model.path());
        Checkpoint checkpoint = Checkpoint.open(directory);
        Tokenizer tokenizer = Tokenizer.load(checkpoint.tokenizerJson(), checkpoint.tokenizerConfigJson());
        EvictionPolicy policy = EvictionPolicies.create(model.policy(), model.threshold(), checkpoint.config());
        Backend backend = new CpuBackend(checkpoint, kvCache.pageSize(), kvCache.memory().toBytes(),
                model.effectiveThreads());
        String id = StringUtils.hasText(model.name()) ? model.name()
                : embedded ? EmbeddedModel.NAME : directory.toAbsolutePath().normalize().getFileName().toString();
        log.info("Serving model '{}' from {} on backend {} ({} kernels) with eviction policy {}, KV cache {} pages"
                + " of {} tokens", id, embedded ? "the embedded checkpoint" : directory, backend.name(),
                Kernels.name(), policy, backend.cacheStatistics().pageCount(), kvCache.pageSize());
        return new ServingModel(id, checkpoint, tokenizer, backend, policy, embedded);
    }

    @Bean(destroyMethod = "")
    Scheduler scheduler(ServingModel model, SchedulerProperties properties) {
        return new Scheduler(model.backend(), properties.settings(), model.policy());
    }

    /** Stops the engine loop, then closes backend, tokenizer and mapped files, in that order. */
    @Bean
    ModelLifecycle modelLifecycle(ServingModel model, Scheduler scheduler) {
        return new ModelLifecycle(model, scheduler);
    }

    static final class ModelLifecycle implements AutoCloseable {
        private final ServingModel model;
        private final Scheduler scheduler;

        ModelLifecycle(ServingModel model, Scheduler scheduler) {
            this.model = model;
            this.scheduler = scheduler;
        }

        @Override
        public void close() {
            if (!scheduler.stop()) {
                // A step is still running on the backend; closing it under the step would crash the JVM's
                // mapped reads. The process is going away anyway.
                log.warn("the engine did not stop within 30 s; leaving the backend open");
                return;
            }
            model.backend().close();
            model.tokenizer().close();
            model.checkpoint().close();
        }
    }
}
