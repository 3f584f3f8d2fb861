package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.tools.HostTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The kernels' own tests (native/test/kernel_test.cu) on the CPU emulator (native/emu/emu.h): every kernel of the
 * fatbin, compiled by g++ as plain C++ with the same sources, against its reference on random inputs with odd sizes
 * and poisoned outputs. CI has no GPU; this is where a kernel change that breaks a result fails it (the GPU runs the
 * same tests with nvcc: tools/gpu/run-native-tests.sh). Three runs in parallel, one per thread order of the emulator.
 * They are CPU-bound: on CI's 2 cores, three at once, a run took a little over 10 minutes on 2026-11-30 (it reached
 * the last two sampling tests at 10); with the kernels added since, the forward run on a 2-core machine reached the
 * last sampling tests only at 25 minutes on 2026-12-04, and the three runs took 1,805 s together on 2026-12-05 (a
 * clean clone's .ci/run, 40 minutes in all), two minutes inside a 32-minute limit: hence {@link #MINUTES}, which is
 * there to end a hung run, not to time one.
 */
class NativeEmulatorIT {

    /** How long each run may take (CI has 90 minutes in all; the whole suite took about 40 on 2026-12-05). */
    private static final int MINUTES = 40;

    /** Every test kernel_test.cu runs by default, each of which must report ok. */
    private static final List<String> TESTS = List.of("embedding", "rmsnorm", "qknorm_rope", "qknorm_rope_kv",
            "qknorm_rope_dims", "attention_merge", "gemv", "gemv_swiglu", "gemv_norm", "gemv_swiglu_norm", "matmul", "matmul_wg", "matmul_ws",
            "matmul_bk", "producer_images", "matmul_wgs", "matmul_wgs_norm", "matmul_wgs_swiglu", "matmul_k_limit", "skinny_cp", "swiglu",
            "page_table", "kv_write", "attention_decode", "attention_decode_tc", "attention_decode_tcb",
            "attention_decode_tcq",
            "attention_chunk", "sampling_small",
            "sampling_large", "sampling_counts");

    /**
     * The emulator's thread orders (DMS_EMU_ORDER): round robin, and each warp in turn running ahead of the others from
     * the first and from the last, where a barrier missing between warps shows.
     */
    private static final List<String> ORDERS = List.of("forward", "ahead", "behind");

    /**
     * When each run's cp.async copies land (DMS_EMU_COPIES): at the wait, the latest moment (a stage read before its
     * wait shows), or also at the issue, the earliest (a stage reloaded while a wgmma still reads it shows).
     */
    private static final List<String> COPIES = List.of("late", "late", "eager");

    /**
     * When each run's wgmma read their tiles (DMS_EMU_WGMMA): at the issue, the earliest moment (with round robin and
     * late copies: a stage handed to the tensor cores before its copies landed shows, e.g. an mbarrier arrived on
     * before the producer's wait), or at the wait, the latest (a stage refilled while a wgmma still reads it shows).
     */
    private static final List<String> WGMMA = List.of("early", "late", "late");

    @Test
    void everyKernelTestPassesOnTheEmulator() throws Exception {
        HostTools.require("g++", ".ci/run installs Debian's g++ (the emulator builds native/test/kernel_test.cu with it)");
        List<Process> processes = new java.util.ArrayList<>();
        List<Path> logs = new java.util.ArrayList<>();
        for (int i = 0; i < ORDERS.size(); i++) {  // in parallel, each with its own build folder
            String order = ORDERS.get(i);
            Path tmp = Files.createTempDirectory("dms-emu-" + order);
            Path log = tmp.resolve("kernel-test.log");
            ProcessBuilder builder = new ProcessBuilder("bash", "native/test/run.sh").redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            builder.environment().put("TMPDIR", tmp.toString());
            builder.environment().put("DMS_EMU_ORDER", order);
            builder.environment().put("DMS_EMU_COPIES", COPIES.get(i));
            builder.environment().put("DMS_EMU_WGMMA", WGMMA.get(i));
            processes.add(builder.start());
            logs.add(log);
        }
        try {
            for (int i = 0; i < ORDERS.size(); i++) {
                String what = "DMS_EMU_ORDER=" + ORDERS.get(i) + " DMS_EMU_COPIES=" + COPIES.get(i)
                        + " DMS_EMU_WGMMA=" + WGMMA.get(i) + " native/test/run.sh";
                String out = HostTools.awaitSuccess(processes.get(i), logs.get(i), MINUTES, what);
                for (String test : TESTS) {
                    assertThat(out).as(what + ", test " + test).containsPattern("(?m)^" + test + "\\s+ok$");
                }
                Matcher total = Pattern.compile("(?m)^(\\d+) checks, (\\d+) failures$").matcher(out);
                assertThat(total.find()).as(what + ", the summary line:\n" + out).isTrue();
                assertThat(Long.parseLong(total.group(2))).as(what + ", failures").isZero();
                assertThat(Long.parseLong(total.group(1))).as(what + ", checks made").isGreaterThan(1_000_000);
            }
        } finally {
            // One run failing or out of time leaves the others running: they would load the tests after this one.
            HostTools.killAlive(processes);
        }
    }
}
