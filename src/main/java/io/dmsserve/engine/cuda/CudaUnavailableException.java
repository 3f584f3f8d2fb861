package io.dmsserve.engine.cuda;

import java.util.List;

/** CUDA cannot be used on this machine; {@link #reasons()} says why, one line each. */
public final class CudaUnavailableException extends CudaException {

    private static final long serialVersionUID = 1L;

    private final List<String> reasons;

    public CudaUnavailableException(List<String> reasons) {
        super("CUDA is not available: " + String.join("; ", reasons));
        this.reasons = List.copyOf(reasons);
    }

    public List<String> reasons() {
        return reasons;
    }
}
