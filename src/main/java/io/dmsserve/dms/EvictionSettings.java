package io.dmsserve.dms;

import java.util.Arrays;
import java.util.Objects;

/**
 * What an admin may move on a learned DMS policy while it serves: eviction on or off, the global threshold and
 * per-layer offsets (running sequences take them at their next step), and the window of sequences that start
 * from now on (a running sequence keeps the window it started with: its cache was laid out for it).
 *
 * @param enabled false: no decision flags a token any more (tokens flagged before still leave when their window
 *     ends, so the cache and the device's mask stay in step)
 * @param threshold a decision logit above {@code threshold + layerOffsets[layer]} flags the previous token
 * @param layerOffsets (layers) added per layer; shorter than the model: 0 for the rest
 * @param window w for new sequences: a flagged token stays visible to the next w queries
 */
public record EvictionSettings(boolean enabled, float threshold, float[] layerOffsets, int window) {

    public EvictionSettings {
        if (!Float.isFinite(threshold)) {
            throw new IllegalArgumentException("DMS threshold must be a finite number, got " + threshold);
        }
        layerOffsets = layerOffsets == null ? new float[0] : layerOffsets.clone();
        for (float offset : layerOffsets) {
            if (!Float.isFinite(offset)) {
                throw new IllegalArgumentException("DMS layer offsets must be finite, got "
                        + Arrays.toString(layerOffsets));
            }
        }
        if (window < 1) {
            throw new IllegalArgumentException("DMS window must be at least 1 token, got " + window);
        }
    }

    /** The rule a sequence with this window follows under these settings. */
    DmsRule rule(int sequenceWindow) {
        // Off keeps the sequence's window in the rule: tokens flagged before must still leave the device's mask
        // exactly when they leave the host's bookkeeping.
        return enabled ? new DmsRule(true, sequenceWindow, threshold, layerOffsets)
                : new DmsRule(false, sequenceWindow, Float.POSITIVE_INFINITY, layerOffsets);
    }

    @Override
    public float[] layerOffsets() {
        return layerOffsets.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EvictionSettings s && enabled == s.enabled && Float.compare(threshold, s.threshold) == 0
                && Arrays.equals(layerOffsets, s.layerOffsets) && window == s.window;
    }

    @Override
    public int hashCode() {
        return Objects.hash(enabled, threshold, Arrays.hashCode(layerOffsets), window);
    }

    @Override
    public String toString() {
        return "eviction " + (enabled ? "on" : "off") + ", threshold " + threshold
                + (layerOffsets.length > 0 ? ", layer offsets " + Arrays.toString(layerOffsets) : "")
                + ", window " + window;
    }
}
