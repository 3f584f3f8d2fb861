package io.dmsserve.dms;

/**
 * The DMS fields of a Qwen3-DMS config.json, under their JSON names in messages.
 *
 * @param windowSize         {@code dms_window_size}: a flagged token stays visible this many positions
 * @param alphaScale         {@code dms_alpha_scale}: multiplies the borrowed query channel
 * @param initialAlphaOffset {@code dms_initial_alpha_offset}: subtracted after scaling
 * @param compressionRatio   {@code dms_cr}: the training target, documentation only; 0 when not stated
 */
public record DmsSettings(int windowSize, double alphaScale, double initialAlphaOffset, int compressionRatio) {

    public DmsSettings {
        if (windowSize <= 0) {
            throw new IllegalArgumentException("field 'dms_window_size' must be positive, got " + windowSize);
        }
        if (!Double.isFinite(alphaScale) || alphaScale <= 0) {
            throw new IllegalArgumentException("field 'dms_alpha_scale' must be a positive finite number, got " + alphaScale);
        }
        if (!Double.isFinite(initialAlphaOffset)) {
            throw new IllegalArgumentException("field 'dms_initial_alpha_offset' must be finite, got " + initialAlphaOffset);
        }
        if (compressionRatio < 0) {
            throw new IllegalArgumentException("field 'dms_cr' must not be negative, got " + compressionRatio);
        }
    }
}
