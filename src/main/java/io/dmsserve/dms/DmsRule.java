package io.dmsserve.dms;

import java.util.Arrays;
import java.util.Objects;

/**
 * The DMS rule of one sequence for one engine step, as data: every backend applies it the same way, and a
 * threshold an admin moves mid-step applies from the next step on, never to half of a step's heads.
 *
 * <p>A KV head's decision at token t flags token t − 1 when its decision logit is above
 * {@code threshold + layerOffsets[layer]}; a flagged token leaves the cache {@code window} positions later
 * (DESIGN.md §3).
 *
 * @param evicts false for a policy that keeps every token: nothing is flagged, the window is unbounded
 * @param window w: a flagged token stays visible to the next w queries
 * @param threshold the global decision threshold (0 in the release)
 * @param layerOffsets (layers) added to the threshold per layer; empty means 0 for every layer
 */
public record DmsRule(boolean evicts, int window, float threshold, float[] layerOffsets) {

    /** Keeps everything: no token is ever flagged. */
    public static final DmsRule KEEP_ALL = new DmsRule(false, Integer.MAX_VALUE, Float.POSITIVE_INFINITY, new float[0]);

    public DmsRule {
        if (window < 0) {
            throw new IllegalArgumentException("DMS window must not be negative, got " + window);
        }
        if (evicts && !Float.isFinite(threshold)) {
            throw new IllegalArgumentException("DMS threshold must be a finite number, got " + threshold);
        }
        layerOffsets = layerOffsets == null ? new float[0] : layerOffsets.clone();
        for (float offset : layerOffsets) {
            if (!Float.isFinite(offset)) {
                throw new IllegalArgumentException("DMS layer offsets must be finite, got " + Arrays.toString(layerOffsets));
            }
        }
    }

    /** The threshold a decision logit of this layer is compared with; +∞ when nothing is ever flagged. */
    public float threshold(int layer) {
        if (!evicts) {
            return Float.POSITIVE_INFINITY;
        }
        return layer < layerOffsets.length ? threshold + layerOffsets[layer] : threshold;
    }

    /** Whether a decision with this logit, made in this layer, flags the previous token. */
    public boolean flags(int layer, float decisionLogit) {
        return decisionLogit > threshold(layer);
    }

    @Override
    public float[] layerOffsets() {
        return layerOffsets.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DmsRule r && evicts == r.evicts && window == r.window
                && Float.compare(threshold, r.threshold) == 0 && Arrays.equals(layerOffsets, r.layerOffsets);
    }

    @Override
    public int hashCode() {
        return Objects.hash(evicts, window, threshold, Arrays.hashCode(layerOffsets));
    }

    @Override
    public String toString() {
        return evicts ? "dms(window=" + window + ", threshold=" + threshold
                + (layerOffsets.length > 0 ? ", layerOffsets=" + Arrays.toString(layerOffsets) : "") + ")" : "none";
    }
}
