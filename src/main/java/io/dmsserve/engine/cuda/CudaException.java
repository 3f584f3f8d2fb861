package io.dmsserve.engine.cuda;

/** A CUDA driver call or kernel launch that failed; the message names the call, the kernel and the error. */
public class CudaException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CudaException(String message) {
        super(message);
    }
}
