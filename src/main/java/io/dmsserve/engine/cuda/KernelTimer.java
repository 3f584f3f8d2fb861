package io.dmsserve.engine.cuda;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.driver.CUevent;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Every kernel's time on the device, from timed CUDA events recorded around each launch made outside a graph
 * ({@code dms.cuda.kernel-timing}, which also turns step graphs off): where a step's time goes at the device's own
 * clocks, with the real page lists, without Nsight Compute (which locks the clocks at base and flushes the caches
 * between kernels: its 5.8 µs an RMSNorm at batch 16 were 2.7 µs in a graph, docs/benchmarks.md tenth pass).
 * The events between the launches cost host time and leave the device short gaps, so the step itself runs slower.
 * Where the device has caught up with the host, a launch's "before" event completes before the host has queued the
 * kernel, and that launch's time includes the host's latency: so each kernel also has its shortest launch, which is
 * its own time where any launch found the device busy (the small kernels after a long one).
 *
 * <p>{@link #collect} reads the pairs whose end has completed, in launch order, and returns their events to a pool.
 */
final class KernelTimer implements AutoCloseable {

    /** A launch's events: {@link #before} makes one without its end, {@link #after} the whole pair. */
    record Pair(String kernel, CUevent before, CUevent after) {
    }

    private final ArrayDeque<CUevent> free = new ArrayDeque<>();
    private final ArrayDeque<Pair> queued = new ArrayDeque<>();
    private final Map<String, long[]> totals = new LinkedHashMap<>();
    private final List<CUevent> all = new ArrayList<>();

    private CUevent event() {
        CUevent event = free.poll();
        if (event == null) {
            event = new CUevent();
            CudaContext.check(JCudaDriver.cuEventCreate(event, 0), "cuEventCreate (kernel timing)");
            all.add(event);
        }
        return event;
    }

    /** Records the event before {@code kernel}'s launch on {@code stream}; the pair gets its end in {@link #after}. */
    Pair before(String kernel, jcuda.driver.CUstream stream) {
        CUevent before = event();
        CudaContext.check(JCudaDriver.cuEventRecord(before, stream), "cuEventRecord (kernel timing)");
        return new Pair(kernel, before, null);
    }

    /** Records the event after the launch {@code begun} (from {@link #before}) and queues the pair. */
    void after(Pair begun, jcuda.driver.CUstream stream) {
        CUevent after = event();
        CudaContext.check(JCudaDriver.cuEventRecord(after, stream), "cuEventRecord (kernel timing)");
        queued.addLast(new Pair(begun.kernel, begun.before, after));
    }

    /** A launch that failed after {@link #before}: its event goes back to the pool, untimed. */
    void abandon(Pair begun) {
        free.add(begun.before);
    }

    /** Adds up the queued launches whose end has completed, in launch order, stopping at the first still running. */
    void collect() {
        float[] ms = new float[1];
        while (!queued.isEmpty()) {
            Pair pair = queued.peekFirst();
            int state = JCudaDriver.cuEventQuery(pair.after);
            if (state == CUresult.CUDA_ERROR_NOT_READY) {
                return;
            }
            CudaContext.check(state, "cuEventQuery (kernel timing)");
            CudaContext.check(JCudaDriver.cuEventElapsedTime(ms, pair.before, pair.after), "cuEventElapsedTime");
            long[] t = totals.computeIfAbsent(pair.kernel, k -> new long[] {0, 0, Long.MAX_VALUE});
            long nanos = Math.round(ms[0] * 1e6);
            t[0]++;
            t[1] += nanos;
            t[2] = Math.min(t[2], nanos);
            queued.removeFirst();
            free.add(pair.before);
            free.add(pair.after);
        }
    }

    /** The kernels' times since the last call (the launches completed by now), the longest total first. */
    List<CudaBackend.KernelTime> take() {
        collect();
        List<CudaBackend.KernelTime> times = new ArrayList<>();
        totals.forEach((kernel, t) -> times.add(new CudaBackend.KernelTime(kernel, t[0], t[1], t[2])));
        totals.clear();
        times.sort(Comparator.comparingLong(CudaBackend.KernelTime::nanos).reversed());
        return times;
    }

    @Override
    public void close() {
        for (CUevent event : all) {
            JCudaDriver.cuEventDestroy(event);
        }
        all.clear();
        free.clear();
        queued.clear();
    }
}
