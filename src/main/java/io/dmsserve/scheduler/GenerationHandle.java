package io.dmsserve.scheduler;

/** A submitted sequence; cancelling frees its KV memory within one engine step. */
public interface GenerationHandle {

    void cancel();
}
