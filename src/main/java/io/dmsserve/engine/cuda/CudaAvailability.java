package io.dmsserve.engine.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

/**
 * Whether the CUDA backend can run here, as reasons it cannot (an empty list means it can). Nothing here
 * throws or prints a stack trace: a machine without a GPU gets one readable line per missing piece.
 *
 * <p>Checked: the kernels' fatbin on the classpath ({@value #FATBIN_RESOURCE}; when the build had no nvcc,
 * the build's own note says so), JCuda's driver binding and the driver library it needs
 * ({@code libcuda.so.1}), {@code cuInit}, at least one device, and compute capability 8.0 or newer (the
 * fatbin holds sm_90a and sm_80 code and compute_80 PTX).
 */
public final class CudaAvailability {

    /** The fatbin that native/build.sh makes from native/*.cu. */
    public static final String FATBIN_RESOURCE = "/native/dms-kernels.fatbin";
    /** Written by native/build.sh instead of the fatbin when it could not build it; holds the reason. */
    static final String UNAVAILABLE_RESOURCE = "/native/dms-kernels.unavailable";
    static final int MIN_COMPUTE_MAJOR = 8;

    private static List<String> driverReasons; // the driver is probed once per process

    private CudaAvailability() {
    }

    /** Every reason the CUDA backend cannot run on device 0 here; empty when it can. */
    public static List<String> check() {
        List<String> reasons = new ArrayList<>(kernelReasons());
        reasons.addAll(driverReasons());
        return List.copyOf(reasons);
    }

    /** Whether the fatbin is on the classpath. */
    static List<String> kernelReasons() {
        if (CudaAvailability.class.getResource(FATBIN_RESOURCE) != null) {
            return List.of();
        }
        try (InputStream note = CudaAvailability.class.getResourceAsStream(UNAVAILABLE_RESOURCE)) {
            if (note != null) {
                String text = new String(note.readAllBytes(), StandardCharsets.UTF_8).strip();
                if (!text.isEmpty()) {
                    return List.of(text);
                }
            }
        } catch (IOException e) {
            // fall through to the generic reason
        }
        return List.of("kernels not built: " + FATBIN_RESOURCE.substring(1)
                + " is not on the classpath (build with nvcc on the PATH)");
    }

    /** The driver binding, cuInit, a device, its compute capability; probed once. */
    static synchronized List<String> driverReasons() {
        if (driverReasons == null) {
            driverReasons = probeDriver();
        }
        return driverReasons;
    }

    private static List<String> probeDriver() {
        int result;
        try {
            result = JCudaDriver.cuInit(0);
        } catch (UnsatisfiedLinkError e) {
            return List.of(describeLinkError(e));
        } catch (LinkageError e) {
            return List.of("the JCuda driver binding cannot be loaded: " + firstLine(e.getMessage()));
        }
        if (result != CUresult.CUDA_SUCCESS) {
            String meaning = result == CUresult.CUDA_ERROR_NO_DEVICE ? "no CUDA device" : "the CUDA driver refused";
            return List.of(meaning + " (cuInit: " + CUresult.stringFor(result) + ")");
        }
        int[] count = {0};
        result = JCudaDriver.cuDeviceGetCount(count);
        if (result != CUresult.CUDA_SUCCESS || count[0] == 0) {
            return List.of("no CUDA device" + (result != CUresult.CUDA_SUCCESS
                    ? " (cuDeviceGetCount: " + CUresult.stringFor(result) + ")" : ""));
        }
        CUdevice device = new CUdevice();
        int[] major = {0};
        int[] minor = {0};
        if (JCudaDriver.cuDeviceGet(device, 0) != CUresult.CUDA_SUCCESS
                || JCudaDriver.cuDeviceGetAttribute(major,
                        CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device)
                        != CUresult.CUDA_SUCCESS
                || JCudaDriver.cuDeviceGetAttribute(minor,
                        CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device)
                        != CUresult.CUDA_SUCCESS) {
            return List.of("CUDA device 0 cannot be queried");
        }
        if (major[0] < MIN_COMPUTE_MAJOR) {
            return List.of("CUDA device 0 has compute capability " + major[0] + "." + minor[0]
                    + "; the kernels need " + MIN_COMPUTE_MAJOR + ".0 or newer (bf16 tensor cores)");
        }
        return List.of();
    }

    /** JCuda's message lists every attempt with stack traces; keep the one line that says what is missing. */
    static String describeLinkError(UnsatisfiedLinkError e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        int at = message.indexOf("libcuda.so");
        if (at >= 0) {
            return "no CUDA driver: libcuda.so.1 was not found (JCuda's driver binding needs it; is the NVIDIA"
                    + " driver installed?)";
        }
        for (String line : message.split("\n")) {
            if (line.startsWith("java.lang.UnsatisfiedLinkError: /")) {
                return "the JCuda driver binding cannot be loaded: "
                        + line.substring("java.lang.UnsatisfiedLinkError: ".length());
            }
        }
        return "the JCuda driver binding cannot be loaded: " + firstLine(message);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "(no message)";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
