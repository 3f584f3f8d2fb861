package io.dmsserve.config;

import io.dmsserve.engine.BackendKind;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.engine.cuda.CudaBackend;
import java.util.List;

/** What each backend can serve, for a start-up that refuses with every reason at once. */
final class Backends {

    private Backends() {
    }

    /** Every reason the backend cannot serve this model here; empty when it can. */
    static List<String> problems(BackendKind kind, ModelConfig config) {
        return switch (kind) {
            case CPU -> CpuBackend.problems(config);
            case CUDA -> CudaBackend.problems(config);
            case AUTO -> problems(resolve(kind, config), config);
        };
    }

    /** AUTO made concrete: CUDA where it can serve the model, else the CPU. */
    static BackendKind resolve(BackendKind kind, ModelConfig config) {
        if (kind != BackendKind.AUTO) {
            return kind;
        }
        return problems(BackendKind.CUDA, config).isEmpty() ? BackendKind.CUDA : BackendKind.CPU;
    }
}
