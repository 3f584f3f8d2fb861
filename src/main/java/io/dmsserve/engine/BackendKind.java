package io.dmsserve.engine;

/** Which backend runs the model ({@code dms.backend}). */
public enum BackendKind {
    /** CUDA when a device and the kernels are there, else the CPU. */
    AUTO,
    /** The reference engine in plain Java. */
    CPU,
    /** Our CUDA kernels through JCuda. */
    CUDA
}
