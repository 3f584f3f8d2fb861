package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.tools.HostTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The benchmarks of native/bench and the kernels' own tests (native/test/kernel_test.cu), which run by hand on the GPU
 * host and never in the fatbin build, still compile with nvcc against the kernels they include: nvcc compiles each,
 * host code and sm_90a PTX (ptxas, the slow part, is left out), in parallel. A change that breaks one fails here, not
 * on the GPU host (CI's emulator build of kernel_test is g++'s, which took a host call to a device function that nvcc
 * refuses: 2026-12-03).
 */
class NativeBenchCompileIT {

    @Test
    void everyBenchmarkAndTheKernelTestsCompile() throws Exception {
        String nvcc = HostTools.require("nvcc", "CI has nvcc 13 (the fatbin build needs it too)");
        List<Path> sources;
        try (Stream<Path> files = Files.list(Path.of("native/bench"))) {
            sources = files.filter(p -> p.toString().endsWith(".cu")).sorted().toList();
        }
        assertThat(sources).as("native/bench/*.cu").extracting(p -> p.getFileName().toString())
                .contains("attention_bench.cu", "skinny_bench.cu");
        sources = Stream.concat(sources.stream(), Stream.of(Path.of("native/test/kernel_test.cu"))).toList();
        Path tmp = Files.createTempDirectory("dms-bench-compile");
        List<Process> processes = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        for (Path source : sources) {
            String name = source.getFileName().toString().replace(".cu", "");
            Path log = tmp.resolve(name + ".log");
            processes.add(new ProcessBuilder(nvcc, "-std=c++17", "-gencode=arch=compute_90a,code=compute_90a", "-c",
                    "-o", tmp.resolve(name + ".o").toString(), source.toString()).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start());
            logs.add(log);
        }
        try {
            for (int i = 0; i < sources.size(); i++) {
                HostTools.awaitSuccess(processes.get(i), logs.get(i), 5, "nvcc " + sources.get(i));
            }
        } finally {  // one compile failing leaves none of the others running
            HostTools.killAlive(processes);
        }
    }
}
