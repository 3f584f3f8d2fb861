package io.dmsserve.engine.cuda;

import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.JCudaDriver;

/**
 * The ends of the last two steps queued on the stream, so that the host waits for one step while the next is
 * queued behind it (a synchronisation of the whole stream would wait for both). Slot {@code i} of
 * {@link #record} pairs with the same slot of the step's double-buffered host memory.
 */
final class StepEvents implements AutoCloseable {

    private final CudaContext context;
    private final CUevent[] events = new CUevent[2];

    StepEvents(CudaContext context) {
        this.context = context;
        for (int i = 0; i < events.length; i++) {
            events[i] = new CUevent();
            CudaContext.check(JCudaDriver.cuEventCreate(events[i], CUevent_flags.CU_EVENT_DISABLE_TIMING),
                    "cuEventCreate");
        }
    }

    /** Marks the end of what the stream holds now as step slot {@code slot}'s. */
    void record(int slot) {
        CudaContext.check(JCudaDriver.cuEventRecord(events[slot], context.stream()), "cuEventRecord");
    }

    /** Waits until the stream has run everything queued before slot {@code slot}'s mark; a kernel's fault shows here. */
    void await(int slot) {
        CudaContext.check(JCudaDriver.cuEventSynchronize(events[slot]), "cuEventSynchronize (a step's kernels)");
    }

    @Override
    public void close() {
        for (CUevent event : events) {
            JCudaDriver.cuEventDestroy(event);
        }
    }
}
