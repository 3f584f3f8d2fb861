package io.dmsserve.engine.cuda;

import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.JCudaDriver;

/**
 * The ends of the last two steps queued on the stream, so that the host waits for one step while the next is
 * queued behind it (a synchronisation of the whole stream would wait for both). Slot {@code i} of
 * {@link #record} pairs with the same slot of the step's double-buffered host memory.
 *
 * <p>With timing on ({@code dms.cuda.step-timing}), each step also gets timed events around its forward pass:
 * {@link #begin} just before the pass is queued, the end with {@link #record}. After {@link #await}, the device's
 * time on the step (begin to end) and the time since the step before ended (that end to this begin: the device
 * idle, waiting for the host to queue the pass, plus what the step queues before it: its uploads, the page-table
 * and count launches) are added up for gpubench: whether the host's work per step stays off the device's critical
 * path.
 */
final class StepEvents implements AutoCloseable {

    /** Timed pairs in a ring: a step's, and the one awaited before it, stay unused until two more are submitted. */
    private static final int RING = 4;

    private final CudaContext context;
    private final CUevent[] events = new CUevent[2];
    private final CUevent[] begins;  // timed, RING of them; null without timing
    private final CUevent[] ends;
    private final int[] pairOfSlot = {-1, -1};  // the timed pair of the step in each slot, -1 for none
    private int next;                // the pair the next step takes
    private int lastAwaited = -1;    // the pair of the step awaited last, -1 before the first
    private long deviceNanos;
    private long gapNanos;
    private long gaps;

    StepEvents(CudaContext context, boolean timing) {
        this.context = context;
        for (int i = 0; i < events.length; i++) {
            events[i] = create(CUevent_flags.CU_EVENT_DISABLE_TIMING);
        }
        begins = timing ? new CUevent[RING] : null;
        ends = timing ? new CUevent[RING] : null;
        for (int i = 0; timing && i < RING; i++) {
            begins[i] = create(CUevent_flags.CU_EVENT_DEFAULT);
            ends[i] = create(CUevent_flags.CU_EVENT_DEFAULT);
        }
    }

    private static CUevent create(int flags) {
        CUevent event = new CUevent();
        CudaContext.check(JCudaDriver.cuEventCreate(event, flags), "cuEventCreate");
        return event;
    }

    /** With timing: marks where the next step's forward pass starts on the stream. */
    void begin() {
        if (begins != null) {
            CudaContext.check(JCudaDriver.cuEventRecord(begins[next], context.stream()), "cuEventRecord");
        }
    }

    /** Marks the end of what the stream holds now as step slot {@code slot}'s (with timing, the end of its pass). */
    void record(int slot) {
        CudaContext.check(JCudaDriver.cuEventRecord(events[slot], context.stream()), "cuEventRecord");
        if (ends != null) {
            CudaContext.check(JCudaDriver.cuEventRecord(ends[next], context.stream()), "cuEventRecord");
            pairOfSlot[slot] = next;
            next = (next + 1) % RING;
        }
    }

    /**
     * Waits until the stream has run everything queued before slot {@code slot}'s mark; a kernel's fault shows here.
     */
    void await(int slot) {
        CudaContext.check(JCudaDriver.cuEventSynchronize(events[slot]), "cuEventSynchronize (a step's kernels)");
        int pair = pairOfSlot[slot];
        if (ends != null && pair >= 0) {
            deviceNanos += elapsedNanos(begins[pair], ends[pair]);
            if (lastAwaited >= 0) {
                gapNanos += elapsedNanos(ends[lastAwaited], begins[pair]);
                gaps++;
            }
            pairOfSlot[slot] = -1;
            lastAwaited = pair;
        }
    }

    /** After a failed step: the steps pending are dropped, so no pair is awaited and no gap runs from a lost one. */
    void reset() {
        pairOfSlot[0] = -1;
        pairOfSlot[1] = -1;
        lastAwaited = -1;
    }

    private static long elapsedNanos(CUevent from, CUevent to) {
        float[] ms = new float[1];
        CudaContext.check(JCudaDriver.cuEventElapsedTime(ms, from, to), "cuEventElapsedTime");
        return Math.round(ms[0] * 1e6);
    }

    /**
     * With timing: the device's nanoseconds on the passes of the steps awaited since the last call, the idle gaps
     * before them, and how many gaps; zeros without timing. The first step awaited after a call has no gap: what the
     * host did between two windows (gpubench collects the prefill's garbage there, for hundreds of ms) is no step's.
     */
    long[] take() {
        long[] taken = {deviceNanos, gapNanos, gaps};
        deviceNanos = 0;
        gapNanos = 0;
        gaps = 0;
        lastAwaited = -1;
        return taken;
    }

    @Override
    public void close() {
        for (CUevent event : events) {
            JCudaDriver.cuEventDestroy(event);
        }
        for (int i = 0; begins != null && i < RING; i++) {
            JCudaDriver.cuEventDestroy(begins[i]);
            JCudaDriver.cuEventDestroy(ends[i]);
        }
    }
}
