package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.tools.HostTools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The kernels' own tests (native/test/kernel_test.cu) on the CPU emulator (native/emu/emu.h): every kernel of the
 * fatbin, compiled by g++ as plain C++ with the same sources, against its reference on random inputs with odd sizes
 * and poisoned outputs. CI has no GPU; this is where a kernel change that breaks a result fails it (the GPU runs the
 * same tests with nvcc: tools/gpu/run-native-tests.sh). About a minute and a half.
 */
class NativeEmulatorIT {

    /** Every test kernel_test.cu runs by default, each of which must report ok. */
    private static final List<String> TESTS = List.of("embedding", "rmsnorm", "qknorm_rope", "qknorm_rope_kv",
            "attention_merge", "gemv", "gemv_swiglu", "matmul", "matmul_wg", "skinny_cp", "swiglu", "page_table",
            "kv_write", "attention_decode", "attention_decode_tc", "attention_chunk", "sampling_small", "sampling_large",
            "sampling_counts");

    @Test
    void everyKernelTestPassesOnTheEmulator() throws Exception {
        HostTools.require("g++", ".ci/run installs Debian's g++ (the emulator builds native/test/kernel_test.cu with it)");
        Path tmp = Files.createTempDirectory("dms-emu");
        Path log = tmp.resolve("kernel-test.log");
        ProcessBuilder builder = new ProcessBuilder("bash", "native/test/run.sh").redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().put("TMPDIR", tmp.toString());
        Process process = builder.start();
        boolean ended = process.waitFor(10, TimeUnit.MINUTES);
        if (!ended) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(ended).as("native/test/run.sh ended within 10 minutes:\n" + out).isTrue();
        assertThat(process.exitValue()).as("native/test/run.sh exit status:\n" + out).isZero();
        for (String test : TESTS) {
            assertThat(out).as("test " + test).containsPattern("(?m)^" + test + "\\s+ok$");
        }
        Matcher total = Pattern.compile("(?m)^(\\d+) checks, (\\d+) failures$").matcher(out);
        assertThat(total.find()).as("the summary line:\n" + out).isTrue();
        assertThat(Long.parseLong(total.group(2))).as("failures").isZero();
        assertThat(Long.parseLong(total.group(1))).as("checks made").isGreaterThan(1_000_000);
    }
}
