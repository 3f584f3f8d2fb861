package io.dmsserve.engine.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUresult;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.JCudaDriver;

/**
 * A step's kernels as one CUDA graph launch instead of hundreds of {@code cuLaunchKernel} calls (issue: "the
 * decode step is replayed as a CUDA graph where shapes allow").
 *
 * <p>The step's launches are first {@linkplain #record recorded}: every launch is checked as usual but not run.
 * A recording whose {@linkplain Recording#key() signature} (kernels, launch shapes, and every argument: buffers
 * by allocation number and offset, scalars by their bits) equals that of a graph already made runs as that
 * graph. A signature seen for the second step in a row is captured (the stream records the launches instead of
 * running them), instantiated, kept, and launched. Anything else runs launch by launch as before, so a shape
 * seen once (a prefill chunk, a batch that just changed) costs no capture. A graph reads its inputs from the
 * same buffers each time (the step upload, the cache, the scratch), which the step fills before the launch;
 * since allocation numbers are never reused, no graph can run on memory that was freed or moved.
 *
 * <p>Recording a step costs host time while the device waits (a Qwen3-8B decode step has about 400 launches).
 * {@link #run(long[], Runnable)} skips it: the caller names everything its launches depend on (counts, split
 * shapes, every buffer by allocation and offset) in a short <em>shape</em>, and a shape already seen with a graph
 * replays that graph without recording. Every {@code checkEvery}-th such replay records the step anyway and
 * compares the signatures, so a shape that misses something fails that step loudly (and the shortcut is dropped
 * for good) rather than replaying the wrong graph; the GPU tests check every replay.
 *
 * <p>Graphs are kept for the last {@value #MAX_GRAPHS} signatures (batch sizes, attention split shapes).
 */
final class StepGraphs implements AutoCloseable {

    static final int MAX_GRAPHS = 16;

    private final CudaContext context;
    private final Map<Key, CUgraphExec> graphs = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<Shape, Known> byShape = new LinkedHashMap<>(16, 0.75f, true);
    private final int checkEvery;
    private boolean shortcut = true;
    private Key previous;
    private long graphLaunches;
    private long captures;
    private long eagerSteps;
    private long shapeReplays;

    /** {@code checkEvery}: record and compare every n-th replay by shape (1: every one; 0: never). */
    StepGraphs(CudaContext context, int checkEvery) {
        if (checkEvery < 0) {
            throw new IllegalArgumentException("checkEvery must be >= 0, got " + checkEvery);
        }
        this.context = context;
        this.checkEvery = checkEvery;
    }

    /**
     * Queues the step {@code body} launches. When {@code shape} was seen before with a graph, replays that graph
     * without recording (checked every {@code checkEvery}-th time); otherwise records and runs as
     * {@link #run(Recording)} does, remembering the shape when the step runs as a graph.
     *
     * @param shape everything the step's launches depend on: equal shapes must record equal signatures
     * @throws IllegalStateException when a check finds a shape whose step records another signature than its graph
     */
    void run(long[] shape, Runnable body) {
        Shape key = new Shape(shape);
        Known known = shortcut ? byShape.get(key) : null;
        CUgraphExec exec = known == null ? null : graphs.get(known.key);
        if (exec != null) {
            shapeReplays++;
            if (checkEvery > 0 && shapeReplays % checkEvery == 0) {
                Recording recording = record(body);
                if (!recording.key().equals(known.key)) {
                    shortcut = false;
                    byShape.clear();
                    throw new IllegalStateException("a step's shape " + Arrays.toString(shape) + " names the graph of "
                            + known.description + ", but the step records " + recording + " with other arguments;"
                            + " steps are recorded from now on");
                }
            }
            previous = known.key;
            graphLaunches++;
            launch(exec, known.description);
            return;
        }
        Recording recording = record(body);
        Key signature = recording.key();
        if (run(recording, signature) && shortcut) {
            byShape.put(key, new Known(signature, recording.toString()));
            while (byShape.size() > 4 * MAX_GRAPHS) {
                Iterator<Shape> it = byShape.keySet().iterator();
                it.next();
                it.remove();
            }
        }
    }

    /** The launches {@code body} makes, checked but not run. */
    Recording record(Runnable body) {
        if (context.recording() != null) {
            throw new IllegalStateException("already recording a step");
        }
        Recording recording = new Recording();
        context.recording(recording);
        try {
            body.run();
        } finally {
            context.recording(null);
        }
        return recording;
    }

    /** Queues the recorded launches: as a graph when one matches or this signature repeats, else one by one. */
    void run(Recording recording) {
        if (!recording.launches.isEmpty()) {
            run(recording, recording.key());
        }
    }

    /** As above, the signature already made; whether the step ran as a graph. */
    private boolean run(Recording recording, Key key) {
        if (recording.launches.isEmpty()) {
            return false;
        }
        CUgraphExec exec = graphs.get(key);
        if (exec == null && key.equals(previous)) {
            exec = capture(recording);
            graphs.put(key, exec);
            evictOldest();
        }
        previous = key;
        if (exec == null) {
            eagerSteps++;
            recording.runEach();
            return false;
        }
        graphLaunches++;
        launch(exec, recording);
        return true;
    }

    /** {@code what} names the step in errors (a recording, or its description), made into text only then. */
    private void launch(CUgraphExec exec, Object what) {
        int result = JCudaDriver.cuGraphLaunch(exec, context.stream());
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException("cuGraphLaunch failed: " + CUresult.stringFor(result) + " (" + what + ")");
        }
        if (context.checkLaunches()) {
            result = JCudaDriver.cuStreamSynchronize(context.stream());
            if (result != CUresult.CUDA_SUCCESS) {
                throw new CudaException("a kernel of the step graph failed while running: "
                        + CUresult.stringFor(result) + " (" + what + ")");
            }
        }
    }

    private CUgraphExec capture(Recording recording) {
        CudaContext.check(JCudaDriver.cuStreamBeginCapture(context.stream(),
                CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
        CUgraph graph = new CUgraph();
        context.capturing(true);
        try {
            recording.runEach();
        } catch (RuntimeException e) {
            JCudaDriver.cuStreamEndCapture(context.stream(), graph);
            JCudaDriver.cuGraphDestroy(graph);
            throw e;
        } finally {
            context.capturing(false);
        }
        CudaContext.check(JCudaDriver.cuStreamEndCapture(context.stream(), graph), "cuStreamEndCapture");
        try {
            CUgraphExec exec = new CUgraphExec();
            CudaContext.check(JCudaDriver.cuGraphInstantiate(exec, graph, 0),
                    "cuGraphInstantiate(" + recording + ")");
            captures++;
            return exec;
        } finally {
            JCudaDriver.cuGraphDestroy(graph);
        }
    }

    private void evictOldest() {
        Iterator<Map.Entry<Key, CUgraphExec>> it = graphs.entrySet().iterator();
        while (graphs.size() > MAX_GRAPHS && it.hasNext()) {
            JCudaDriver.cuGraphExecDestroy(it.next().getValue());
            it.remove();
        }
    }

    /** Steps run as a graph, graphs captured, steps run launch by launch, graphs replayed by shape (no recording). */
    long[] counts() {
        return new long[] {graphLaunches, captures, eagerSteps, shapeReplays};
    }

    /** Drops every graph (their buffers are about to be freed or replaced). */
    void clear() {
        for (CUgraphExec exec : graphs.values()) {
            JCudaDriver.cuGraphExecDestroy(exec);
        }
        graphs.clear();
        byShape.clear();
        previous = null;
    }

    @Override
    public void close() {
        clear();
    }

    /** A step's launches in order, with their arguments, not yet run. */
    static final class Recording {
        private final List<Launch> launches = new ArrayList<>();

        void add(Kernel kernel, int gridX, int gridY, int gridZ, int block, int sharedBytes, KernelArgs args) {
            launches.add(new Launch(kernel, gridX, gridY, gridZ, block, sharedBytes, args));
        }

        int size() {
            return launches.size();
        }

        void runEach() {
            for (Launch l : launches) {
                l.kernel.run(l.gridX, l.gridY, l.gridZ, l.block, l.sharedBytes, l.args);
            }
        }

        /** Equal keys: the same kernels with the same shapes and the same argument values, in the same order. */
        Key key() {
            Kernel[] kernels = new Kernel[launches.size()];
            int total = 0;
            for (Launch l : launches) {
                total += 6 + l.args.signatureLength();
            }
            // One array for the whole step (a decode step has hundreds of launches): shape, then arguments.
            long[] values = new long[total];
            int at = 0;
            for (int i = 0; i < kernels.length; i++) {
                Launch l = launches.get(i);
                kernels[i] = l.kernel;
                values[at++] = l.gridX;
                values[at++] = l.gridY;
                values[at++] = l.gridZ;
                values[at++] = l.block;
                values[at++] = l.sharedBytes;
                values[at++] = l.args.signatureLength();
                l.args.copySignature(values, at);
                at += l.args.signatureLength();
            }
            return new Key(kernels, values);
        }

        @Override
        public String toString() {
            StringBuilder names = new StringBuilder();
            for (Launch l : launches) {
                if (names.indexOf(l.kernel.name) < 0) {
                    names.append(names.length() == 0 ? "" : ", ").append(l.kernel.name);
                }
            }
            return launches.size() + " launches of " + names;
        }
    }

    /** A shape's graph: its signature (the graph's key) and what it launches, for errors. */
    private record Known(Key key, String description) {
    }

    /** A step's shape, compared by value. */
    private record Shape(long[] values, int hash) {
        Shape(long[] values) {
            this(values, Arrays.hashCode(values));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Shape other && other.hash == hash && Arrays.equals(values, other.values);
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public String toString() {
            return Arrays.toString(values);
        }
    }

    private record Launch(Kernel kernel, int gridX, int gridY, int gridZ, int block, int sharedBytes,
            KernelArgs args) {
    }

    /** Kernels compared by identity (one {@link Kernel} per function of the module), the rest by value. */
    static final class Key {
        private final Kernel[] kernels;
        private final long[] values;
        private final int hash;

        Key(Kernel[] kernels, long[] values) {
            this.kernels = kernels;
            this.values = values;
            int h = Arrays.hashCode(values);
            for (Kernel k : kernels) {
                h = 31 * h + System.identityHashCode(k);
            }
            this.hash = h;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Key other) || other.hash != hash || other.kernels.length != kernels.length) {
                return false;
            }
            for (int i = 0; i < kernels.length; i++) {
                if (kernels[i] != other.kernels[i]) {
                    return false;
                }
            }
            return Arrays.equals(values, other.values);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
