package io.dmsserve.scheduler;

/** A sequence that cannot fit in the whole KV cache even alone: retrying will not help, a bigger pool will. */
public final class KvCapacityException extends IllegalStateException {

    public KvCapacityException(String message) {
        super(message);
    }
}
