package io.dmsserve.sampling;

/**
 * A model's own sampling defaults (generation_config.json), used where a request leaves a parameter out;
 * null where the model has none (the server's default applies).
 */
public record SamplingDefaults(Double temperature, Double topP, Integer topK) {

    public static final SamplingDefaults NONE = new SamplingDefaults(null, null, null);
}
