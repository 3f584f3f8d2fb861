package io.dmsserve.engine;

/**
 * Memory of the device a backend runs on, as its driver reports it: everything in use on the device (weights,
 * KV pool, activations, other processes), not only this backend's share.
 */
public record DeviceMemory(long usedBytes, long totalBytes) {

    public DeviceMemory {
        if (usedBytes < 0 || totalBytes < usedBytes) {
            throw new IllegalArgumentException("device memory used " + usedBytes + " of " + totalBytes + " bytes");
        }
    }
}
