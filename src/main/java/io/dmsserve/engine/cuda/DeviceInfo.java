package io.dmsserve.engine.cuda;

/**
 * What the kernels' launchers need to know about the device.
 *
 * @param sharedMemoryPerBlockOptin the most dynamic shared memory a block may have once its kernel opts in
 * @param driverVersion as cuDriverGetVersion: 1000 * major + 10 * minor (13000 for CUDA 13.0)
 */
public record DeviceInfo(int index, String name, int computeMajor, int computeMinor, int multiprocessors,
        long totalMemory, int sharedMemoryPerBlockOptin, int l2CacheBytes, int driverVersion) {

    /**
     * Whether the device runs the fatbin's sm_90a code: compute 9.0 only; every other device has the driver compile
     * its compute_80 PTX, which lacks what is compiled for sm_90 alone (the warpgroup kernels, the programmatic
     * launch's waits, the chunk kernel's packed key tiles). native/dms.cuh, dms_compute90, asks the same.
     */
    public boolean runsSm90a() {
        return computeMajor == 9 && computeMinor == 0;
    }

    @Override
    public String toString() {
        return String.format("%s (device %d, sm_%d%d, %d multiprocessors, %.1f GiB, driver %d.%d)", name, index,
                computeMajor, computeMinor, multiprocessors, totalMemory / (double) (1L << 30), driverVersion / 1000,
                driverVersion % 1000 / 10);
    }
}
