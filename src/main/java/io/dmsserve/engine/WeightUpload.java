package io.dmsserve.engine;

/**
 * What a backend copied of the checkpoint's weights to its device at load, and how long that took (the log gives
 * the progress in tenths while it runs; the service's port opens only once loading is done, so health reports the
 * finished upload).
 */
public record WeightUpload(long bytes, double seconds) {

    public WeightUpload {
        if (bytes < 0 || !(seconds >= 0)) {
            throw new IllegalArgumentException("weight upload of " + bytes + " bytes in " + seconds + " s");
        }
    }
}
