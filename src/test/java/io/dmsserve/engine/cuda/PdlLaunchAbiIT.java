package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.tools.HostTools;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link PdlLaunch} writes cuLaunchKernelEx's config, attribute and argument block by hand (offsets in Java). CI has
 * no GPU, so here a stand-in for the driver's function, compiled by g++ against the real {@code cuda.h} of the
 * machine's CUDA toolkit, reads them with the driver's own struct layout in a child JVM (which needs the foreign
 * linker's module and native access, as a deployment does) and prints what it read: every field must be what the
 * launch asked for, and its result code must come back. The H200 runs the real launches (PdlLaunchTest).
 */
class PdlLaunchAbiIT {

    @Test
    void theDriverReadsTheConfigAttributeAndArgumentsAsLaunched() throws Exception {
        String gxx = HostTools.require("g++", ".ci/run installs Debian's g++");
        Path include = cudaInclude();
        Path dir = Files.createTempDirectory("pdl-abi");
        Path source = Path.of("src/test/resources/native-fakes/fake_launch_kernel_ex.cpp");
        Path library = dir.resolve("libfake-cuda-launch.so");
        Path compileLog = dir.resolve("g++.log");
        Process compile = new ProcessBuilder(gxx, "-shared", "-fPIC", "-O1", "-I" + include,
                "-o", library.toString(), source.toString()).redirectErrorStream(true)
                .redirectOutput(compileLog.toFile()).start();
        HostTools.awaitSuccess(compile, compileLog, 2, "g++ " + source);

        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-modules=jdk.incubator.foreign");
        command.add("--enable-native-access=ALL-UNNAMED");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(PdlLaunchProbe.class.getName());
        command.add(library.toString());
        Path log = dir.resolve("probe.log");
        Process probe = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        String out = HostTools.awaitSuccess(probe, log, 2, "the launch probe");

        String launch = "grid 3 4 5 block 128 1 1 shared 4096 stream abcd attrs 1\n"
                + "attr 6 1\n"  // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, allowed
                + "function 1234 extra 0\n";
        assertThat(out).contains(launch + "args -7 1.5 2.25 7f0012345678 123456\n"
                + "result 700\n"  // CUDA_ERROR_ILLEGAL_ADDRESS, passed on
                + launch + "args -7 1.5 2.25 0 123456\n"  // the null pointer's 8 bytes over the value before
                + "result 700\n");
    }

    /** The CUDA toolkit's include folder: beside the nvcc on the PATH, else /usr/local/cuda's. */
    private static Path cudaInclude() throws Exception {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path nvcc = Path.of(dir, "nvcc");
            if (Files.isExecutable(nvcc)) {
                Path include = nvcc.toRealPath().getParent().getParent().resolve("include");
                if (Files.isRegularFile(include.resolve("cuda.h"))) {
                    return include;
                }
            }
        }
        Path fallback = Path.of("/usr/local/cuda/include");
        assertThat(fallback.resolve("cuda.h")).as("cuda.h of the CUDA toolkit (nvcc builds the kernels in CI)")
                .isRegularFile();
        return fallback;
    }
}
