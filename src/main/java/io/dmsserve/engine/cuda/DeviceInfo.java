package io.dmsserve.engine.cuda;

/**
 * What the kernels' launchers need to know about the device.
 *
 * @param sharedMemoryPerBlockOptin the most dynamic shared memory a block may have once its kernel opts in
 * @param driverVersion as cuDriverGetVersion: 1000 * major + 10 * minor (13000 for CUDA 13.0)
 */
public record DeviceInfo(int index, String name, int computeMajor, int computeMinor, int multiprocessors,
        long totalMemory, int sharedMemoryPerBlockOptin, int l2CacheBytes, int driverVersion) {

    @Override
    public String toString() {
        return String.format("%s (device %d, sm_%d%d, %d multiprocessors, %.1f GiB, driver %d.%d)", name, index,
                computeMajor, computeMinor, multiprocessors, totalMemory / (double) (1L << 30), driverVersion / 1000,
                driverVersion % 1000 / 10);
    }
}
