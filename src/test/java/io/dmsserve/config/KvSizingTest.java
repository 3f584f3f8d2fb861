package io.dmsserve.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.scheduler.StepExecutor;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/** The page pool sized from dms.kv-cache.memory or .fraction, and what cannot work refused with the property's name. */
class KvSizingTest {

    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-qwen3-dms");

    @Test
    void aFractionTakesThatShareOfWhatIsFree() {
        try (Checkpoint checkpoint = Checkpoint.open(MODEL)) {
            CpuBackend backend = new CpuBackend(checkpoint, 1);
            long perPage = backend.kvBytesPerPage(16);
            long before = backend.kvMemoryAvailable();
            try (StepExecutor executor = EngineConfiguration.allocate(backend,
                    new KvCacheProperties(16, DataSize.ofMegabytes(1), 0.02, true), 4)) {
                long pool = (long) executor.cache().pageCount() * perPage;
                assertThat(pool).isLessThanOrEqualTo((long) (0.02 * Math.max(before, backend.kvMemoryAvailable())))
                        .isGreaterThan(DataSize.ofMegabytes(1).toBytes());
            }
        }
    }

    @Test
    void aFixedMemoryIsTakenAsGivenAndTooLittleIsRefused() {
        try (Checkpoint checkpoint = Checkpoint.open(MODEL)) {
            CpuBackend backend = new CpuBackend(checkpoint, 1);
            long perPage = backend.kvBytesPerPage(16);
            try (StepExecutor executor = EngineConfiguration.allocate(backend,
                    new KvCacheProperties(16, DataSize.ofBytes(10 * perPage + 7), null, true), 4)) {
                assertThat(executor.cache().pageCount()).isEqualTo(10);
            }
            assertThatThrownBy(() -> EngineConfiguration.allocate(new CpuBackend(checkpoint, 1),
                    new KvCacheProperties(16, DataSize.ofBytes(perPage - 1), null, true), 4))
                    .isInstanceOf(ModelStartupException.class)
                    .hasMessageStartingWith("dms.kv-cache.memory=")
                    .hasMessageContaining("holds no KV page");
        }
    }
}
