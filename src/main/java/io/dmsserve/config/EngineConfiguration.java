package io.dmsserve.config;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.BackendKind;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.GenerationConfig;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.engine.cuda.CudaBackend;
import io.dmsserve.engine.cuda.CudaContext;
import io.dmsserve.engine.simd.Kernels;
import io.dmsserve.sampling.SamplingDefaults;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.StepExecutor;
import io.dmsserve.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.StringUtils;

/**
 * The engine as beans: the checkpoint (configured, or the embedded one), its tokenizer, eviction policy,
 * backend and KV cache, and the scheduler that runs them. {@link EngineLifecycle} starts and stops the
 * engine thread and closes these at the end; they have no destroy method of their own, because closing
 * a backend under a step that is still running would crash the JVM's mapped reads.
 */
@Configuration(proxyBeanMethods = false)
class EngineConfiguration {

    private static final Logger log = LoggerFactory.getLogger(EngineConfiguration.class);
    /** Share of the free memory the KV store may take; the rest is for activations and requests. */
    static final double KV_SHARE = 0.8;

    /** First of the engine's beans: its creation is when loading starts. */
    @Bean
    ModelLoad modelLoad() {
        return new ModelLoad();
    }

    @Bean(destroyMethod = "")
    Checkpoint checkpoint(ModelProperties model, ModelLoad load) {
        return Checkpoint.open(StringUtils.hasText(model.path()) ? Path.of(model.path()) : EmbeddedModel.extract());
    }

    @Bean(destroyMethod = "")
    Tokenizer tokenizer(Checkpoint checkpoint) {
        return Tokenizer.load(checkpoint.tokenizerJson(), checkpoint.tokenizerConfigJson());
    }

    @Bean
    EvictionPolicy evictionPolicy(ModelProperties model, Checkpoint checkpoint) {
        try {
            return EvictionPolicies.create(model.policy(), model.threshold(), checkpoint.config().dms());
        } catch (IllegalArgumentException e) {
            throw new ModelStartupException("dms.model.policy=" + model.policy().label() + ", dms.model.threshold="
                    + model.threshold() + ": " + e.getMessage(), "Set dms.model.policy to auto or none for this"
                    + " model, or a finite dms.model.threshold.");
        }
    }

    @Bean(destroyMethod = "")
    Backend backend(BackendProperties engine, CpuProperties cpu, SchedulerProperties scheduler,
            Checkpoint checkpoint) {
        BackendKind kind = engine.backend();
        List<String> problems = Backends.problems(kind, checkpoint.config());
        if (!problems.isEmpty()) {
            throw new ModelStartupException("dms.backend=" + kind.name().toLowerCase(Locale.ROOT)
                    + " cannot serve this model here: " + String.join("; ", problems),
                    "Choose another dms.backend (auto picks one that can).");
        }
        if (Backends.resolve(kind, checkpoint.config()) == BackendKind.CUDA) {
            // The weights' tile images only for the products the scheduler's largest step gives the bulk-copy kernels
            // (none at its default 256 tokens: the KV pool keeps that memory). A step takes up to step-tokens, or every
            // running sequence's decode token and a quarter of step-tokens of prefill (StepPlanner).
            int largestStep = Math.max(scheduler.stepTokens(), scheduler.maxRunning() + Math.max(1,
                    scheduler.stepTokens() / 4));
            return new CudaBackend(checkpoint, CudaContext.open(), largestStep);
        }
        Kernels.configure(cpu.kernels().label());
        return new CpuBackend(checkpoint, cpu.effectiveThreads());
    }

    @Bean(destroyMethod = "")
    StepExecutor stepExecutor(Backend backend, KvCacheProperties kvCache, SchedulerProperties scheduler) {
        return allocate(backend, kvCache, scheduler.maxRunning());
    }

    @Bean
    ServingModel servingModel(ModelProperties model, Checkpoint checkpoint, Tokenizer tokenizer,
            EvictionPolicy policy, StepExecutor executor, KvCacheProperties kvCache) {
        boolean embedded = !StringUtils.hasText(model.path());
        String id = StringUtils.hasText(model.name()) ? model.name()
                : embedded ? EmbeddedModel.NAME : checkpoint.directory().toAbsolutePath().normalize().getFileName()
                        .toString();
        Set<Integer> eos = new TreeSet<>(tokenizer.eosTokenIds());
        checkpoint.generationConfig().ifPresent(config -> eos.addAll(config.eosTokenIds()));
        SamplingDefaults defaults = checkpoint.generationConfig().map(GenerationConfig::samplingDefaults)
                .orElse(SamplingDefaults.NONE);
        Backend backend = executor.backend();
        log.info("Serving model '{}' from {} on backend {}{} with eviction policy {}, KV cache {} pages of {} tokens",
                id, embedded ? "the embedded checkpoint" : checkpoint.directory(), backend.name(),
                backend instanceof CpuBackend ? " (" + Kernels.name() + " kernels)" : "", policy,
                executor.cache().pageCount(), kvCache.pageSize());
        return new ServingModel(id, tokenizer, eos, defaults, policy, backend.name(), embedded);
    }

    @Bean(destroyMethod = "")
    Scheduler scheduler(StepExecutor executor, SchedulerProperties properties, EvictionPolicy policy, ModelLoad load) {
        Scheduler scheduler = new Scheduler(executor, properties.settings(), policy);
        load.finished();
        return scheduler;
    }

    @Bean
    EngineLifecycle engineLifecycle(Scheduler scheduler, StepExecutor executor, Tokenizer tokenizer,
            Checkpoint checkpoint) {
        return new EngineLifecycle(scheduler, executor, tokenizer, checkpoint);
    }

    /** Sizes the page pool, refusing with the property's name what cannot be allocated. */
    static StepExecutor allocate(Backend backend, KvCacheProperties kvCache, int rows) {
        long perPage = backend.kvBytesPerPage(kvCache.pageSize());
        if (kvCache.fraction() != null) {
            long memory = (long) (backend.kvMemoryAvailable() * kvCache.fraction());
            if (memory < perPage) {
                throw new ModelStartupException("dms.kv-cache.fraction=" + kvCache.fraction() + " of the "
                        + mb(backend.kvMemoryAvailable()) + " free holds no KV page of " + perPage + " bytes",
                        "Raise dms.kv-cache.fraction, or free memory for the " + backend.name() + " backend.");
            }
            return StepExecutor.allocate(backend, kvCache.pageSize(), memory, rows, kvCache.repack());
        }
        long memory = kvCache.memory().toBytes();
        if (memory < perPage) {
            throw new ModelStartupException("dms.kv-cache.memory=" + mb(memory) + " holds no KV page: a page of "
                    + kvCache.pageSize() + " tokens takes " + perPage + " bytes on the " + backend.name() + " backend",
                    "Raise dms.kv-cache.memory (or lower dms.kv-cache.page-size).");
        }
        long needed = memory / perPage * perPage;
        long allowed = (long) (backend.kvMemoryAvailable() * KV_SHARE);
        if (needed > allowed) {
            boolean heap = backend instanceof CpuBackend;
            throw new ModelStartupException("dms.kv-cache.memory=" + mb(memory) + " does not fit: the "
                    + backend.name() + " backend keeps the KV cache in " + (heap ? "the Java heap" : "device memory")
                    + ", where it may take at most " + Math.round(KV_SHARE * 100) + "% of the "
                    + mb(backend.kvMemoryAvailable()) + " free, " + mb(allowed),
                    "Lower dms.kv-cache.memory to at most " + mb(allowed)
                            + (heap ? ", or give the JVM a larger heap (-Xmx)." : "."));
        }
        return StepExecutor.allocate(backend, kvCache.pageSize(), memory, rows, kvCache.repack());
    }

    private static String mb(long bytes) {
        return bytes < (1 << 20) ? (bytes >> 10) + "KB" : (bytes >> 20) + "MB";
    }
}
