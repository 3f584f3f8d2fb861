package io.dmsserve.engine.simd;

import java.lang.management.ManagementFactory;

/**
 * Chooses the {@link FloatKernels} once per process. The Vector API implementation is used when the
 * incubator module {@code jdk.incubator.vector} is in the boot layer (the JVM was started with
 * {@code --add-modules jdk.incubator.vector}), the JIT can compile with C2 (not {@code -Xint} nor
 * {@code -XX:TieredStopAtLevel} below 4, as {@code spring-boot:run} sets by default: without C2 the Vector
 * API is far slower than plain loops) and the platform's preferred vector holds at least four floats;
 * otherwise plain loops. Only {@link VectorKernels} refers to the module, and it is loaded by name, so
 * nothing here fails when the module is absent.
 *
 * <p>Choosing the vector kernels also warms them up (see {@link VectorKernels#warmUp}): the first
 * {@link #get()} then takes about a second of CPU time, and later calls run compiled code.
 *
 * <p>The choice: {@code auto} (the default), {@code scalar}, or {@code vector} (an error where the vector
 * kernels cannot be used), set by the service's {@code dms.cpu.kernels} property through {@link #configure}
 * before the first use, else read from the system property of the same name (command-line tools, tests);
 * {@value #WARM_UP_PROPERTY} sets the warm-up calls per kernel (default {@value #WARM_UP_CALLS}, 0 for none).
 */
public final class Kernels {

    /** The system property that overrides the choice. */
    public static final String PROPERTY = "dms.cpu.kernels";
    /** The system property that sets how many times the warm-up calls each vector kernel. */
    public static final String WARM_UP_PROPERTY = "dms.cpu.kernels.warmup";

    static final String VECTOR_MODULE = "jdk.incubator.vector";
    static final int WARM_UP_CALLS = 20000;

    private static final FloatKernels SCALAR = new ScalarKernels();
    private static volatile String configured;
    private static volatile boolean chosen; // set when Holder initializes; Holder itself must not be touched early

    private Kernels() {
    }

    /**
     * The kernels this process uses.
     *
     * @throws IllegalStateException if {@value #PROPERTY} has a bad value, or asks for vector kernels that
     *         cannot be used here
     */
    public static FloatKernels get() {
        Holder.check();
        return Holder.KERNELS;
    }

    /**
     * Sets the choice ({@code auto}, {@code scalar}, {@code vector}) before the kernels are first used.
     *
     * @throws IllegalStateException when the kernels are already in use with another choice
     */
    public static synchronized void configure(String choice) {
        if (chosen && !choice.equalsIgnoreCase(requested())) {
            throw new IllegalStateException(PROPERTY + "=" + choice + " comes after the kernels were chosen as "
                    + requested());
        }
        configured = choice.toLowerCase(java.util.Locale.ROOT);
    }

    private static String requested() {
        String choice = configured != null ? configured : System.getProperty(PROPERTY);
        return choice == null ? "auto" : choice;
    }

    /** The active implementation, for the service to log: "scalar" or "vector-512", say. */
    public static String name() {
        return get().name();
    }

    /** fp16 bits (the low 16 bits of {@code bits}) as fp32, exact for every value, through one shared table. */
    public static float f16ToFloat(int bits) {
        return ScalarKernels.F16_TO_F32[bits & 0xFFFF];
    }

    /** The plain-loop kernels, whatever the process uses (the reference for the vector ones). */
    public static FloatKernels scalar() {
        return SCALAR;
    }

    /**
     * The choice for a value of {@link #PROPERTY} (null meaning auto), given whether the vector module is
     * present and whether C2 compiles. The vector kernels come back not warmed up.
     *
     * @throws IllegalArgumentException for an unknown value, or "vector" where the vector kernels cannot be used
     */
    static FloatKernels select(String property, boolean modulePresent, boolean optimizingJit) {
        String choice = property == null ? "auto" : property.trim();
        switch (choice) {
            case "scalar":
                return SCALAR;
            case "vector": {
                if (!modulePresent) {
                    throw new IllegalArgumentException(PROPERTY + "=vector, but module " + VECTOR_MODULE
                            + " is not in the boot layer; start the JVM with --add-modules " + VECTOR_MODULE);
                }
                if (!optimizingJit) {
                    throw new IllegalArgumentException(PROPERTY + "=vector, but this JVM does not compile with"
                            + " C2 (-Xint or -XX:TieredStopAtLevel below 4), without which vectors are slower");
                }
                FloatKernels vector = loadVector();
                if (vector == null) {
                    throw new IllegalArgumentException(PROPERTY + "=vector, but the Vector API kernels do not fit"
                            + " this platform (fewer than four floats to a vector, or no half-width vector shape)");
                }
                return vector;
            }
            case "auto":
            case "": {
                FloatKernels vector = modulePresent && optimizingJit ? loadVector() : null;
                return vector != null ? vector : SCALAR;
            }
            default:
                throw new IllegalArgumentException(PROPERTY + "='" + property
                        + "' is not one of auto, scalar, vector");
        }
    }

    static boolean vectorModulePresent() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    /**
     * Whether the JIT compiles hot code with C2. Where that cannot be found out (a runtime without
     * java.management or jdk.management, a JVM other than HotSpot), assumes it does.
     */
    static boolean optimizingJit() {
        if (System.getProperty("java.vm.info", "").contains("interpreted mode")) {
            return false;
        }
        try {
            return JitOptions.tieredStopAtLevel() >= 4;
        } catch (LinkageError | RuntimeException e) {
            return true;
        }
    }

    /**
     * The Vector API kernels, or null where they do not fit this platform: the preferred vector holds fewer
     * than four floats, or has no half-width shape for 16-bit weights, or the module cannot be linked.
     */
    private static FloatKernels loadVector() {
        try {
            Class<?> type = Class.forName("io.dmsserve.engine.simd.VectorKernels");
            if (!(boolean) type.getDeclaredMethod("worthwhile").invoke(null)) {
                return null;
            }
            return (FloatKernels) type.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError e) {
            return null;
        }
    }

    private static void warmUp(FloatKernels kernels, int calls) {
        if (calls <= 0 || kernels == SCALAR) {
            return;
        }
        try {
            kernels.getClass().getDeclaredMethod("warmUp", int.class).invoke(kernels, calls);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot warm up the Vector API kernels", e);
        }
    }

    /** The management classes, loaded only if this is called, so that a runtime without them still works. */
    private static final class JitOptions {
        static int tieredStopAtLevel() {
            com.sun.management.HotSpotDiagnosticMXBean bean =
                    ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            if (bean == null) {
                return 4;
            }
            if (!Boolean.parseBoolean(bean.getVMOption("TieredCompilation").getValue())) {
                return 4; // C2 alone
            }
            return Integer.parseInt(bean.getVMOption("TieredStopAtLevel").getValue());
        }
    }

    /** Initialized on first use, so a bad property value is reported where the kernels are needed. */
    private static final class Holder {
        static final FloatKernels KERNELS;
        static final IllegalArgumentException ERROR;

        static {
            FloatKernels kernels = null;
            IllegalArgumentException error = null;
            try {
                chosen = true;
                kernels = select(requested(), vectorModulePresent(), optimizingJit());
                warmUp(kernels, Integer.getInteger(WARM_UP_PROPERTY, WARM_UP_CALLS));
            } catch (IllegalArgumentException e) {
                error = e;
            }
            KERNELS = kernels;
            ERROR = error;
        }

        static void check() {
            if (ERROR != null) {
                throw new IllegalStateException(ERROR.getMessage(), ERROR);
            }
        }
    }
}
