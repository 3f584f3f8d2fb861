package io.dmsserve.engine.simd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The choice as a user's JVM makes it, in child processes: without {@code --add-modules
 * jdk.incubator.vector} nothing may fail to load and the plain loops run; the system property forces them.
 */
class KernelChoiceProcessIT {

    @Test
    void withoutTheModuleThePlainLoopsRun() throws Exception {
        assertThat(probe(false)).isEqualTo("scalar 34.0");
    }

    @Test
    void thePropertyForcesThePlainLoops() throws Exception {
        assertThat(probe(true, "-D" + Kernels.PROPERTY + "=scalar")).isEqualTo("scalar 34.0");
    }

    @Test
    void withTheModuleTheVectorKernelsRun() throws Exception {
        assertThat(probe(true, "-D" + Kernels.WARM_UP_PROPERTY + "=100")).matches("vector-\\d+ 34\\.0");
    }

    @Test
    void withoutC2ThePlainLoopsRun() throws Exception {
        assertThat(probe(true, "-XX:TieredStopAtLevel=1")).isEqualTo("scalar 34.0");
    }

    /** The probe's output line, run with or without the vector module and with extra JVM options. */
    private static String probe(boolean module, String... options) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        if (module) {
            command.add("--add-modules=jdk.incubator.vector");
        }
        command.addAll(List.of(options));
        command.add("-cp");
        command.add(location(KernelsProbe.class) + File.pathSeparator + location(Kernels.class));
        command.add(KernelsProbe.class.getName());
        // Output to a file, not a pipe read to its end: a child that never exits cannot hang the build, it is
        // killed at the timeout and the test fails with what it printed.
        Path log = Files.createTempFile("kernels-probe", ".log");
        String output;
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean ended = process.waitFor(60, TimeUnit.SECONDS);
            if (!ended) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            output = Files.readString(log, StandardCharsets.UTF_8);
            assertThat(ended).as("%s ended within 60 s; it printed:%n%s", command, output).isTrue();
            assertThat(process.exitValue()).as(output).isZero();
        } finally {
            Files.deleteIfExists(log);
        }
        // The JVM's own "WARNING: Using incubator modules" line comes first when the module is there.
        String[] lines = output.strip().split("\\R");
        return lines[lines.length - 1];
    }

    private static String location(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
