package io.dmsserve.scheduler;

/** The waiting queue is full: the request is refused at once rather than queued without bound. */
public final class QueueFullException extends RuntimeException {

    private final int queued;

    public QueueFullException(int queued) {
        super("the server is at capacity: " + queued + " requests are already waiting");
        this.queued = queued;
    }

    public int queued() {
        return queued;
    }
}
