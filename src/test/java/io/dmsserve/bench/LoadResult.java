package io.dmsserve.bench;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * One load run: {@code requests} streams started together, {@code tokens} generated in all between the first
 * request and the last completion ({@code seconds}), the CPU time the whole process used meanwhile (engine,
 * server and, for HTTP, the client), time to first token of each stream, and failed streams.
 */
record LoadResult(int requests, long tokens, double seconds, double cpuSeconds, double engineCpuSeconds,
        double[] ttftMillis, int errors, List<String> errorSamples) {

    /** The scheduler's engine loop thread (see Scheduler): steps run there, and so do generation listeners. */
    static final String ENGINE_THREAD = "dms-engine";

    double tokensPerSecond() {
        return tokens / seconds;
    }

    double cpuMicrosPerToken() {
        return cpuSeconds * 1e6 / tokens;
    }

    /** CPU time per token of the engine loop thread alone. */
    double engineCpuMicrosPerToken() {
        return engineCpuSeconds * 1e6 / tokens;
    }

    /** CPU time of the engine loop thread so far (0 when there is no such thread). */
    static double engineThreadCpuSeconds() {
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        for (java.lang.management.ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().equals(ENGINE_THREAD)) {
                return Math.max(0, threads.getThreadCpuTime(info.getThreadId())) / 1e9;
            }
        }
        return 0;
    }

    /** CPU time of this process so far, all threads. */
    static double processCpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
    }

    /** Cores kept busy on average: process CPU time over wall time. */
    double coresBusy() {
        return cpuSeconds / seconds;
    }

    /** Waves run one after another, as one run. */
    static LoadResult sequence(List<LoadResult> waves) {
        List<String> samples = waves.stream().flatMap(w -> w.errorSamples.stream()).limit(5).toList();
        return new LoadResult(waves.stream().mapToInt(LoadResult::requests).sum(),
                waves.stream().mapToLong(LoadResult::tokens).sum(), waves.stream().mapToDouble(LoadResult::seconds).sum(),
                waves.stream().mapToDouble(LoadResult::cpuSeconds).sum(),
                waves.stream().mapToDouble(LoadResult::engineCpuSeconds).sum(), pooledTtfts(waves),
                waves.stream().mapToInt(LoadResult::errors).sum(), samples);
    }

    /** The run with the median throughput. */
    static LoadResult median(List<LoadResult> runs) {
        List<LoadResult> sorted = runs.stream().sorted(Comparator.comparingDouble(LoadResult::tokensPerSecond)).toList();
        return sorted.get(sorted.size() / 2);
    }

    static double[] pooledTtfts(List<LoadResult> runs) {
        return runs.stream().flatMapToDouble(r -> Arrays.stream(r.ttftMillis)).toArray();
    }
}
