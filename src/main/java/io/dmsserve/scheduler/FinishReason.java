package io.dmsserve.scheduler;

/** Why a sequence stopped generating. */
public enum FinishReason {
    /** An end-of-sequence token, or the listener saw a stop string. */
    STOP,
    /** The request's token limit, or the model's context length. */
    LENGTH,
    /** The client went away or cancelled. */
    CANCELLED,
    /** The request's deadline passed. */
    TIMEOUT
}
