package io.dmsserve.engine.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One CUDA device for the engine: its primary context made current on the calling thread, its properties,
 * the kernels' module loaded from the fatbin on the classpath, and one stream that every launch and
 * asynchronous copy of this context goes to (a stream of its own, so that a decode step can be captured
 * into a CUDA graph; it is a blocking stream, so the synchronous copies of {@link DeviceBuffer} are
 * ordered after the work queued on it).
 *
 * <p>Errors become {@link CudaException}s naming the driver call and the kernel. Launches are asynchronous,
 * so a kernel that faults is normally reported by the next synchronising call; with {@code checkLaunches}
 * (system property {@value #CHECK_LAUNCHES_PROPERTY}, and always in the gpu tests) every launch is followed
 * by a stream synchronisation, so the fault names its kernel.
 *
 * <p>Used from one thread. Call {@link #makeCurrent()} first on any other thread.
 */
public final class CudaContext implements AutoCloseable {

    /** System property: synchronise after every launch, so that a faulting kernel is named. */
    public static final String CHECK_LAUNCHES_PROPERTY = "dms.cuda.check-launches";
    /**
     * System property: launch every kernel with programmatic dependent launch ({@link PdlLaunch}) on compute 9.0 (the
     * fatbin's sm_90a code, which has the kernels' waits), when the JVM allows it (otherwise {@link #pdlState()} says
     * why not and launches are plain). On by default ({@code false} launches plainly): with the trigger {@code short}
     * it measured 1.3-1.6% more steady tokens/s at 16 x 32K DMS and 1.1% at batch 1 on the H200 (2026-11-30,
     * docs/benchmarks.md, fourteenth pass). The JVM needs {@code --add-modules=jdk.incubator.foreign
     * --enable-native-access=ALL-UNNAMED} (the image's entry point passes them).
     */
    public static final String PDL_PROPERTY = "dms.cuda.pdl";
    /**
     * System property: where a block lets the next kernel launch under {@link #PDL_PROPERTY}: {@code gemv} (default:
     * as short, and the GEMVs of one-token steps after their main loop), {@code short} (short kernels at their start,
     * the rest at exit), {@code exit}, {@code late} (short kernels at their start, the decode products after their main
     * loop, the rest at exit) or {@code start} (every kernel at its start); native/dms.cuh, dms_pdl_trigger_at. On the
     * H200 (2026-11-30) late and start made 16 x 32K DMS decode 13% slower and batch 1 about 1% faster; exit neither;
     * short both faster (docs/benchmarks.md, fourteenth pass); gemv batch 1 1.1% faster than short, steady, and steps
     * of more than one token as short (2026-12-01, nineteenth pass).
     */
    public static final String PDL_TRIGGER_PROPERTY = "dms.cuda.pdl-trigger";
    /**
     * System property: a regular expression over kernel names (e.g. {@code dms_matmul_wgs_split_n16}); under
     * {@link #PDL_PROPERTY} the kernels it matches whole are launched plainly, so they start only once the launch
     * before has completed. For experiments that place the early starts kernel by kernel (which edge of the
     * {@code late} trigger costs 13% at 16 x 32K); none by default. A kernel launched plainly keeps the rule of
     * native/dms.cuh (it starts after the launch before it, hence after the one two before).
     */
    public static final String PDL_PLAIN_PROPERTY = "dms.cuda.pdl-plain";
    // dms_pdl_trigger_at 0, 1, 2, 3, 4
    private static final List<String> PDL_TRIGGERS = List.of("exit", "late", "start", "short", "gemv");
    /**
     * System property: what the split-grid tensor-core decode attention does before its programmatic-launch wait, so
     * that it overlaps the launch just before (the q/k norm and RoPE with the KV write): {@code lists} (the default:
     * it reads its page list, the step's rows and the page table, which the launch just before never writes) or
     * {@code off} (it waits first); native/dms.cuh, dms_attention_early. Batch 1 at 4K on the H200: lists 1.0-1.1%
     * more steady tokens/s in eight same-run pairs on three machines; an L2 prefetch of the first K/V rows there as
     * well gained nothing (2026-12-01, docs/benchmarks.md, twentieth pass). {@code slots}: as {@code lists}, and where
     * the q/k norm is folded into the attention ({@link CudaBackend#FOLD_QKNORM_PROPERTY}: the launch just before is
     * then the q|k|v product, which writes no slot's metadata) the first tile's slot positions and flags too.
     */
    public static final String ATTENTION_EARLY_PROPERTY = "dms.cuda.attention-early";
    // dms_attention_early 0, 1, 2
    private static final List<String> ATTENTION_EARLY = List.of("off", "lists", "slots");
    /** Dynamic shared memory a block may use without opting in. */
    static final int DEFAULT_SHARED_LIMIT = 48 * 1024;

    private final CUdevice device;
    private final CUcontext context;
    private final CUmodule module;
    private final CUstream stream;
    private final DeviceInfo info;
    private final boolean checkLaunches;
    private final PdlLaunch pdl;         // null: plain launches
    private final Pattern pdlPlain;      // kernels launched plainly under pdl (PDL_PLAIN_PROPERTY), or null
    private final String pdlState;
    private final String attentionEarly;
    private final long streamAddress;
    private KernelTimer kernelTimer;
    private String timingLabel;
    private final Map<String, Kernel> kernels = new HashMap<>();
    private StepGraphs.Recording recording; // launches are recorded, not run, while set
    private boolean capturing;              // the stream is being captured into a graph
    private boolean closed;

    private CudaContext(CUdevice device, CUcontext context, CUmodule module, CUstream stream, DeviceInfo info,
            boolean checkLaunches) {
        this.device = device;
        this.context = context;
        this.module = module;
        this.stream = stream;
        this.info = info;
        this.checkLaunches = checkLaunches;
        String why = pdlUnavailable(info);
        PdlLaunch launcher = null;
        if (why == null) {
            try {
                launcher = PdlLaunch.open();
            } catch (UnsupportedOperationException | LinkageError e) {
                why = e.getMessage();
            }
        }
        String trigger = pdlTrigger();
        this.pdlPlain = pdlPlain(System.getProperty(PDL_PLAIN_PROPERTY, ""));
        if (launcher != null) {
            CUdeviceptr at = new CUdeviceptr();
            long[] size = {0};
            check(JCudaDriver.cuModuleGetGlobal(at, size, module, "dms_pdl_trigger_at"),
                    "cuModuleGetGlobal(dms_pdl_trigger_at)");
            check(JCudaDriver.cuMemcpyHtoD(at, Pointer.to(new int[] {PDL_TRIGGERS.indexOf(trigger)}), 4),
                    "cuMemcpyHtoD(dms_pdl_trigger_at)");
        }
        this.attentionEarly = attentionEarlySetting();
        if (!attentionEarly.equals(ATTENTION_EARLY.get(1))) {  // the module's own value is 1
            CUdeviceptr early = new CUdeviceptr();
            check(JCudaDriver.cuModuleGetGlobal(early, new long[1], module, "dms_attention_early"),
                    "cuModuleGetGlobal(dms_attention_early)");
            check(JCudaDriver.cuMemcpyHtoD(early, Pointer.to(new int[] {ATTENTION_EARLY.indexOf(attentionEarly)}), 4),
                    "cuMemcpyHtoD(dms_attention_early)");
        }
        this.pdl = launcher;
        this.pdlState = launcher == null ? "off (" + why + ")"
                : "on, trigger " + trigger + (pdlPlain != null ? ", plain " + pdlPlain.pattern() : "");
        this.streamAddress = launcher != null ? NativeAddress.of(stream) : 0;
    }

    /** {@link #PDL_TRIGGER_PROPERTY}'s value, checked. */
    private static String pdlTrigger() {
        String trigger = System.getProperty(PDL_TRIGGER_PROPERTY, "gemv");
        if (!PDL_TRIGGERS.contains(trigger)) {
            throw new IllegalArgumentException(PDL_TRIGGER_PROPERTY + " must be one of " + PDL_TRIGGERS + ", got '"
                    + trigger + "'");
        }
        return trigger;
    }

    /** {@link #ATTENTION_EARLY_PROPERTY}'s value, checked. */
    static String attentionEarlySetting() {
        String early = System.getProperty(ATTENTION_EARLY_PROPERTY, "lists");
        if (!ATTENTION_EARLY.contains(early)) {
            throw new IllegalArgumentException(ATTENTION_EARLY_PROPERTY + " must be one of " + ATTENTION_EARLY
                    + ", got '" + early + "'");
        }
        return early;
    }

    /** What the decode attention does before its wait ({@link #ATTENTION_EARLY_PROPERTY}). */
    public String attentionEarly() {
        return attentionEarly;
    }

    /** {@link #PDL_PROPERTY}: true unless set to false (anything but true or false is refused). */
    static boolean pdlWanted() {
        String value = System.getProperty(PDL_PROPERTY, "true");
        if (!value.equals("true") && !value.equals("false")) {
            throw new IllegalArgumentException(PDL_PROPERTY + " must be true or false, got '" + value + "'");
        }
        return value.equals("true");
    }

    /** Why this context launches plainly, or null when it may try programmatic dependent launch. */
    private static String pdlUnavailable(DeviceInfo info) {
        if (!pdlWanted()) {
            return PDL_PROPERTY + " is false";
        }
        if (!info.runsSm90a()) {
            // The fatbin's sm_90a code has the kernels' griddepcontrol.wait; elsewhere the driver compiles the
            // compute_80 PTX, where it is compiled out, and a programmatic launch would race.
            return "compute " + info.computeMajor() + "." + info.computeMinor() + " runs kernels built without its"
                    + " wait (9.0 only)";
        }
        if (ModuleLayer.boot().findModule(PdlLaunch.MODULE).isEmpty()) {
            return "the JVM was started without --add-modules=" + PdlLaunch.MODULE;
        }
        return null;
    }

    /**
     * Whether kernels are launched with programmatic dependent launch: "on, trigger gemv" (short, exit, late, start),
     * followed by ", plain REGEX" where {@link #PDL_PLAIN_PROPERTY} names kernels launched plainly, or "off (why)".
     */
    public String pdlState() {
        return pdlState;
    }

    /** The launcher for this kernel: null where launches are plain (no programmatic launch, or the kernel is named). */
    PdlLaunch pdl(String kernel) {
        return pdl == null || pdlPlain != null && pdlPlain.matcher(kernel).matches() ? null : pdl;
    }

    /** {@link #PDL_PLAIN_PROPERTY}'s pattern, or null when empty. */
    static Pattern pdlPlain(String regex) {
        if (regex.isEmpty()) {
            return null;
        }
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(PDL_PLAIN_PROPERTY + " must be a regular expression over kernel names,"
                    + " got '" + regex + "': " + e.getDescription(), e);
        }
    }

    long streamAddress() {
        return streamAddress;
    }

    /** Device 0, launches checked when {@value #CHECK_LAUNCHES_PROPERTY} is true. */
    public static CudaContext open() {
        return open(0, Boolean.getBoolean(CHECK_LAUNCHES_PROPERTY));
    }

    /**
     * @throws CudaUnavailableException with {@link CudaAvailability#check()}'s reasons when CUDA cannot be used
     * @throws CudaException when a driver call fails on the way
     */
    public static CudaContext open(int deviceIndex, boolean checkLaunches) {
        pdlWanted();  // a bad value fails before anything is allocated
        pdlTrigger();
        pdlPlain(System.getProperty(PDL_PLAIN_PROPERTY, ""));
        attentionEarlySetting();
        List<String> reasons = CudaAvailability.check();
        if (!reasons.isEmpty()) {
            throw new CudaUnavailableException(reasons);
        }
        byte[] fatbin = readFatbin();
        CUdevice device = new CUdevice();
        check(JCudaDriver.cuDeviceGet(device, deviceIndex), "cuDeviceGet(" + deviceIndex + ")");
        CUcontext context = new CUcontext();
        check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        try {
            check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            DeviceInfo info = query(device, deviceIndex);
            CUmodule module = new CUmodule();
            check(JCudaDriver.cuModuleLoadData(module, fatbin), "cuModuleLoadData(" + CudaAvailability.FATBIN_RESOURCE
                    + ", " + fatbin.length + " bytes) on " + info.name());
            CUstream stream = new CUstream();
            check(JCudaDriver.cuStreamCreate(stream, 0), "cuStreamCreate");
            return new CudaContext(device, context, module, stream, info, checkLaunches);
        } catch (RuntimeException e) {
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
            throw e;
        }
    }

    private static byte[] readFatbin() {
        try (InputStream in = CudaContext.class.getResourceAsStream(CudaAvailability.FATBIN_RESOURCE)) {
            if (in == null) {
                throw new CudaUnavailableException(CudaAvailability.kernelReasons());
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new CudaException("cannot read " + CudaAvailability.FATBIN_RESOURCE + ": " + e.getMessage());
        }
    }

    private static DeviceInfo query(CUdevice device, int index) {
        byte[] name = new byte[256];
        check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
        int length = 0;
        while (length < name.length && name[length] != 0) {
            length++;
        }
        long[] memory = {0};
        check(JCudaDriver.cuDeviceTotalMem(memory, device), "cuDeviceTotalMem");
        int[] driver = {0};
        check(JCudaDriver.cuDriverGetVersion(driver), "cuDriverGetVersion");
        return new DeviceInfo(index, new String(name, 0, length, java.nio.charset.StandardCharsets.UTF_8),
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), memory[0],
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE), driver[0]);
    }

    private static int attribute(CUdevice device, int attribute) {
        int[] value = {0};
        check(JCudaDriver.cuDeviceGetAttribute(value, attribute, device), "cuDeviceGetAttribute(" + attribute + ")");
        return value[0];
    }

    /** Throws a {@link CudaException} naming the call unless result is CUDA_SUCCESS. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call + " failed: " + CUresult.stringFor(result));
        }
    }

    public DeviceInfo info() {
        return info;
    }

    /** Makes this context current on the calling thread. */
    public void makeCurrent() {
        check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /**
     * Starts or stops the CUDA profiler's collection for this context (cuProfilerStart / cuProfilerStop): a tool run
     * with collection off at the start (Nsight Compute's {@code --profile-from-start off}) measures only what is
     * launched in between. Without a profiler attached it does nothing.
     */
    public void profiler(boolean on) {
        makeCurrent();
        if (on) {
            check(JCudaDriver.cuProfilerStart(), "cuProfilerStart");
        } else {
            check(JCudaDriver.cuProfilerStop(), "cuProfilerStop");
        }
    }

    /** The stream of every launch and asynchronous copy of this context. */
    public CUstream stream() {
        return stream;
    }

    /** Waits for everything queued on the stream; a fault of an earlier kernel surfaces here. */
    public void synchronize() {
        check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    /** Device memory of this many bytes (at least one), contents undefined. */
    public DeviceBuffer allocate(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
        }
        CUdeviceptr pointer = new CUdeviceptr();
        check(JCudaDriver.cuMemAlloc(pointer, Math.max(1, bytes)), "cuMemAlloc(" + bytes + " bytes)");
        return new DeviceBuffer(this, pointer, bytes);
    }

    public DeviceBuffer upload(float[] values) {
        DeviceBuffer buffer = allocate((long) values.length * Float.BYTES);
        buffer.copyFrom(values);
        return buffer;
    }

    public DeviceBuffer upload(int[] values) {
        DeviceBuffer buffer = allocate((long) values.length * Integer.BYTES);
        buffer.copyFrom(values);
        return buffer;
    }

    public DeviceBuffer upload(short[] values) {
        DeviceBuffer buffer = allocate((long) values.length * Short.BYTES);
        buffer.copyFrom(values);
        return buffer;
    }

    public DeviceBuffer upload(byte[] values) {
        DeviceBuffer buffer = allocate(values.length);
        buffer.copyFrom(values);
        return buffer;
    }

    /** Page-locked host memory for staging copies. */
    public PinnedBuffer allocatePinned(long bytes) {
        Pointer pointer = new Pointer();
        check(JCudaDriver.cuMemHostAlloc(pointer, Math.max(1, bytes), JCudaDriver.CU_MEMHOSTALLOC_PORTABLE),
                "cuMemHostAlloc(" + bytes + " bytes)");
        return new PinnedBuffer(pointer, bytes);
    }

    /**
     * The kernel of this name in the fatbin; a kernel whose dynamic shared memory, with its static, comes to more than
     * 48 KB is given the limit here (the static counts: 48 KB of dynamic memory beside 512 static bytes failed to
     * launch with CUDA_ERROR_INVALID_VALUE on the H200, 2026-11-30).
     *
     * @throws CudaException when the fatbin has no such kernel, or the device cannot give it that much memory
     */
    synchronized Kernel kernel(String name, int dynamicSharedBytes) {
        Kernel kernel = kernels.get(name);
        if (kernel == null) {
            CUfunction function = new CUfunction();
            check(JCudaDriver.cuModuleGetFunction(function, module, name), "cuModuleGetFunction(" + name + ")");
            int[] staticBytes = new int[1];
            check(JCudaDriver.cuFuncGetAttribute(staticBytes, CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                    function), "cuFuncGetAttribute(" + name + ", static shared memory)");
            kernel = new Kernel(this, name, function, staticBytes[0]);
            kernels.put(name, kernel);
        }
        if (dynamicSharedBytes > kernel.sharedLimit) {
            if (kernel.staticSharedBytes + dynamicSharedBytes > info.sharedMemoryPerBlockOptin()) {
                throw new CudaException(name + " needs " + dynamicSharedBytes + " bytes of dynamic shared memory per "
                        + "block beside " + kernel.staticSharedBytes + " static; " + info.name() + " allows "
                        + info.sharedMemoryPerBlockOptin() + " in all");
            }
            check(JCudaDriver.cuFuncSetAttribute(kernel.function,
                    CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, dynamicSharedBytes),
                    "cuFuncSetAttribute(" + name + ", max dynamic shared memory " + dynamicSharedBytes + ")");
            kernel.sharedLimit = dynamicSharedBytes;
        }
        return kernel;
    }

    Kernel kernel(String name) {
        return kernel(name, 0);
    }

    boolean checkLaunches() {
        return checkLaunches;
    }

    StepGraphs.Recording recording() {
        return recording;
    }

    void recording(StepGraphs.Recording recording) {
        this.recording = recording;
    }

    boolean capturing() {
        return capturing;
    }

    /**
     * The timer of every launch outside a graph ({@link KernelTimer}), or null: set by the backend that asks for it.
     */
    KernelTimer kernelTimer() {
        return kernelTimer;
    }

    void kernelTimer(KernelTimer timer) {
        this.kernelTimer = timer;
    }

    /** With a kernel timer: what the next launches are timed as besides their kernel's name (null: the name alone). */
    String timingLabel() {
        return timingLabel;
    }

    void timingLabel(String label) {
        this.timingLabel = label;
    }

    void capturing(boolean capturing) {
        this.capturing = capturing;
    }

    /** Milliseconds the stream takes to run what {@code work} queues on it (CUDA events around it). */
    public float time(Runnable work) {
        CUevent start = new CUevent();
        CUevent stop = new CUevent();
        check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
        check(JCudaDriver.cuEventCreate(stop, 0), "cuEventCreate");
        try {
            check(JCudaDriver.cuEventRecord(start, stream), "cuEventRecord");
            work.run();
            check(JCudaDriver.cuEventRecord(stop, stream), "cuEventRecord");
            check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
            float[] ms = {0};
            check(JCudaDriver.cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
            return ms[0];
        } finally {
            JCudaDriver.cuEventDestroy(start);
            JCudaDriver.cuEventDestroy(stop);
        }
    }

    boolean closed() {
        return closed;
    }

    /** Unloads the module and releases the primary context; buffers still open are freed with it. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        JCudaDriver.cuCtxSetCurrent(context);
        JCudaDriver.cuStreamSynchronize(stream);
        JCudaDriver.cuStreamDestroy(stream);
        JCudaDriver.cuModuleUnload(module);
        if (pdl != null) {
            pdl.close();
        }
        JCudaDriver.cuDevicePrimaryCtxRelease(device);
    }

    @Override
    public String toString() {
        return "CudaContext[" + info + "]";
    }
}
