package io.dmsserve.admin;

import java.util.Arrays;
import java.util.Objects;

/**
 * Everything an admin can change, as persisted and as the JSON API shows it.
 *
 * @param evictionEnabled DMS decisions flag tokens (false: nothing new is flagged)
 * @param threshold global DMS decision threshold
 * @param layerOffsets (layers or fewer) added to the threshold per layer
 * @param window DMS window of sequences that start from now on
 * @param maxRunning sequences in the batch
 * @param maxWaiting sequences queued beyond the batch
 */
public record AdminSettings(boolean evictionEnabled, float threshold, float[] layerOffsets, int window, int maxRunning,
        int maxWaiting) {

    public AdminSettings {
        layerOffsets = layerOffsets == null ? new float[0] : layerOffsets.clone();
    }

    @Override
    public float[] layerOffsets() {
        return layerOffsets.clone();
    }

    /** Field name to value as written in the audit log. */
    String value(String field) {
        return switch (field) {
            case "evictionEnabled" -> Boolean.toString(evictionEnabled);
            case "threshold" -> Float.toString(threshold);
            case "layerOffsets" -> join(layerOffsets);
            case "window" -> Integer.toString(window);
            case "maxRunning" -> Integer.toString(maxRunning);
            case "maxWaiting" -> Integer.toString(maxWaiting);
            default -> throw new IllegalArgumentException(field);
        };
    }

    static final String[] FIELDS = {"evictionEnabled", "threshold", "layerOffsets", "window", "maxRunning",
        "maxWaiting"};

    static String join(float[] offsets) {
        StringBuilder out = new StringBuilder();
        for (float offset : offsets) {
            if (out.length() > 0) {
                out.append(", ");
            }
            out.append(offset);
        }
        return out.toString();
    }

    /** The offsets as the pages show them: comma-separated, or "none". */
    public String offsetsText() {
        return layerOffsets.length == 0 ? "none" : join(layerOffsets);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AdminSettings s && evictionEnabled == s.evictionEnabled
                && Float.compare(threshold, s.threshold) == 0 && Arrays.equals(layerOffsets, s.layerOffsets)
                && window == s.window && maxRunning == s.maxRunning && maxWaiting == s.maxWaiting;
    }

    @Override
    public int hashCode() {
        return Objects.hash(evictionEnabled, threshold, Arrays.hashCode(layerOffsets), window, maxRunning, maxWaiting);
    }
}
