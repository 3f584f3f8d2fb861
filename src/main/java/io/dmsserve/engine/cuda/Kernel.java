package io.dmsserve.engine.cuda;

import jcuda.driver.CUfunction;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/** One {@code extern "C" __global__} function of the fatbin, launched on its context's stream. */
final class Kernel {

    final String name;
    final CUfunction function;
    /** Its static shared memory (bytes), which counts against the same per-block limit as the dynamic. */
    final int staticSharedBytes;
    /** The dynamic shared memory (bytes) it may launch with: the default 48 KB less the static until opted in. */
    int sharedLimit;
    private final CudaContext context;
    private final PdlLaunch pdl;  // null: launched plainly (CudaContext.pdl)
    private long address;  // of function, for PdlLaunch (0: not read yet)

    Kernel(CudaContext context, String name, CUfunction function, int staticSharedBytes) {
        this.context = context;
        this.name = name;
        this.function = function;
        this.staticSharedBytes = staticSharedBytes;
        this.sharedLimit = CudaContext.DEFAULT_SHARED_LIMIT - staticSharedBytes;
        this.pdl = context.pdl(name);
    }

    /**
     * Launches now, or only records the launch while the context records a step ({@link StepGraphs}).
     *
     * @throws CudaException naming this kernel and the launch shape when the launch (or, with checked
     *     launches, the kernel itself) fails
     */
    void launch(int gridX, int gridY, int gridZ, int block, int sharedBytes, KernelArgs args) {
        if (gridX < 1 || gridY < 1 || gridZ < 1 || gridY > 65535 || gridZ > 65535 || block < 1 || block > 1024) {
            throw new IllegalArgumentException(name + ": launch shape grid " + gridX + "x" + gridY + "x" + gridZ
                    + ", block " + block + " is outside the device's limits");
        }
        StepGraphs.Recording recording = context.recording();
        if (recording != null) {
            recording.add(this, gridX, gridY, gridZ, block, sharedBytes, args);
            return;
        }
        run(gridX, gridY, gridZ, block, sharedBytes, args);
    }

    private long address() {
        if (address == 0) {
            address = NativeAddress.of(function);
        }
        return address;
    }

    /** The launch itself, on the context's stream (queued, or captured while the stream captures). */
    void run(int gridX, int gridY, int gridZ, int block, int sharedBytes, KernelArgs args) {
        // Timing turns step graphs off, so a launch runs where it is made and the label is the caller's.
        KernelTimer timer = context.capturing() ? null : context.kernelTimer();
        String label = timer == null ? null : context.timingLabel();
        KernelTimer.Pair timed = timer == null ? null
                : timer.before(label == null ? name : name + " " + label, context.stream());
        int result = pdl != null
                ? pdl.launch(address(), gridX, gridY, gridZ, block, sharedBytes, context.streamAddress(), args)
                : JCudaDriver.cuLaunchKernel(function, gridX, gridY, gridZ, block, 1, 1, sharedBytes,
                        context.stream(), args.pointer(), null);
        if (timed != null && result == CUresult.CUDA_SUCCESS) {
            timer.after(timed, context.stream());
        } else if (timed != null) {
            timer.abandon(timed);
        }
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(name + ": " + (pdl != null ? "cuLaunchKernelEx" : "cuLaunchKernel") + " failed: "
                    + CUresult.stringFor(result) + " (grid "
                    + gridX + "x" + gridY + "x" + gridZ + ", block " + block + ", " + sharedBytes
                    + " bytes of shared memory)");
        }
        if (context.checkLaunches() && !context.capturing()) {
            result = JCudaDriver.cuStreamSynchronize(context.stream());
            if (result != CUresult.CUDA_SUCCESS) {
                throw new CudaException(name + " failed while running: " + CUresult.stringFor(result) + " (grid "
                        + gridX + "x" + gridY + "x" + gridZ + ", block " + block + ")");
            }
        }
    }
}
