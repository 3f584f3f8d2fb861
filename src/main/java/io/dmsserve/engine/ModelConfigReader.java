package io.dmsserve.engine;

import io.dmsserve.dms.DmsSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import tools.jackson.databind.JsonNode;

/**
 * config.json to {@link ModelConfig}, with Hugging Face Qwen3Config defaults for optional fields.
 * Anything that would change the forward pass in a way the engine does not implement (RoPE scaling,
 * biases, sliding windows, another activation, a separate DMS alpha projection) is refused here,
 * rather than silently producing different numbers from the reference model.
 */
final class ModelConfigReader {

    // Qwen3Config defaults (transformers), used when a field is absent or null.
    private static final double DEFAULT_ROPE_THETA = 10000.0;
    private static final double DEFAULT_RMS_NORM_EPS = 1e-6;
    private static final int DEFAULT_MAX_POSITION_EMBEDDINGS = 32768;

    private ModelConfigReader() {
    }

    static ModelConfig read(Path file) {
        JsonFields f = new JsonFields(file, Json.readObject(file));
        String architecture = architecture(f);
        refuseUnsupported(f);

        int hidden = f.requiredInt("hidden_size");
        int heads = f.requiredInt("num_attention_heads");
        int headDim = headDim(f, hidden, heads);
        try {
            return new ModelConfig(architecture, hidden, f.requiredInt("intermediate_size"),
                    f.requiredInt("num_hidden_layers"), heads, f.optionalInt("num_key_value_heads", heads), headDim,
                    f.requiredInt("vocab_size"), ropeTheta(f), f.optionalDouble("rms_norm_eps", DEFAULT_RMS_NORM_EPS),
                    f.optionalBoolean("tie_word_embeddings", false),
                    f.optionalInt("max_position_embeddings", DEFAULT_MAX_POSITION_EMBEDDINGS), dms(f));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, e.getMessage(), e);
        }
    }

    private static String architecture(JsonFields f) {
        JsonNode list = f.optional("architectures")
                .orElseThrow(() -> f.error("architectures", "is missing (expected [\"" + ModelConfig.QWEN3 + "\"])"));
        List<String> names = new ArrayList<>();
        if (list.isArray()) {
            list.forEach(n -> names.add(n.isString() ? n.stringValue() : n.toString()));
        } else {
            names.add(list.toString());
        }
        if (!names.contains(ModelConfig.QWEN3)) {
            throw f.error("architectures", "names unsupported architecture " + names + " (supported: " + ModelConfig.QWEN3 + ")");
        }
        f.optionalString("model_type").filter(t -> !t.equals("qwen3")).ifPresent(t -> {
            throw f.error("model_type", "is '" + t + "', expected 'qwen3' for " + ModelConfig.QWEN3);
        });
        return ModelConfig.QWEN3;
    }

    private static void refuseUnsupported(JsonFields f) {
        if (f.optionalBoolean("attention_bias", false)) {
            throw f.error("attention_bias", "is true: attention biases are not supported (Qwen3 has none)");
        }
        f.optionalString("hidden_act").filter(a -> !a.equals("silu")).ifPresent(a -> {
            throw f.error("hidden_act", "is '" + a + "': only 'silu' is supported");
        });
        if (f.optionalBoolean("use_sliding_window", false)) {
            throw f.error("use_sliding_window", "is true: sliding-window attention is not supported");
        }
        f.optional("layer_types").ifPresent(types -> types.forEach(t -> {
            if (!"full_attention".equals(t.isString() ? t.stringValue() : null)) {
                throw f.error("layer_types", "contains " + t + ": only full_attention layers are supported");
            }
        }));
        f.optional("rope_scaling").ifPresent(s -> requireDefaultRope(f, "rope_scaling", s));
        if (f.optionalBoolean("dms_separate_alpha", false)) {
            throw f.error("dms_separate_alpha", "is true: only DMS decisions borrowed from the query are supported");
        }
        f.optionalString("dms_alpha_per").filter(p -> !p.equals("head")).ifPresent(p -> {
            throw f.error("dms_alpha_per", "is '" + p + "': only per-head DMS decisions are supported");
        });
    }

    /** RoPE scaling (YaRN, linear, dynamic, ...) is refused; an explicit "default" type is plain RoPE. */
    private static void requireDefaultRope(JsonFields f, String field, JsonNode value) {
        if (!value.isObject()) {
            throw f.error(field, "must be an object or null, got " + value);
        }
        JsonNode type = value.has("rope_type") ? value.get("rope_type") : value.get("type");
        if (type == null || !type.isString() || !type.stringValue().equals("default")) {
            throw f.error(field, "is " + value + ": RoPE scaling is not supported (only plain RoPE)");
        }
    }

    /** rope_theta at the top level, or inside rope_parameters as transformers 5 writes it. */
    private static double ropeTheta(JsonFields f) {
        Optional<JsonNode> params = f.optional("rope_parameters");
        params.ifPresent(p -> requireDefaultRope(f, "rope_parameters", p));
        if (f.present("rope_theta")) {
            return f.optionalDouble("rope_theta", DEFAULT_ROPE_THETA);
        }
        JsonNode nested = params.map(p -> p.get("rope_theta")).orElse(null);
        return nested == null || nested.isNull() ? DEFAULT_ROPE_THETA : f.toDouble("rope_parameters.rope_theta", nested);
    }

    private static int headDim(JsonFields f, int hidden, int heads) {
        if (f.present("head_dim")) {
            return f.requiredInt("head_dim");
        }
        if (heads <= 0 || hidden % heads != 0) {
            throw f.error("head_dim", "is missing and hidden_size " + hidden
                    + " is not a multiple of num_attention_heads " + heads);
        }
        return hidden / heads;
    }

    private static DmsSettings dms(JsonFields f) {
        if (!f.present("dms_window_size")) {
            for (String field : List.of("dms_alpha_scale", "dms_initial_alpha_offset")) {
                if (f.present(field)) {
                    throw f.error("dms_window_size", "is missing although " + field + " is set; a DMS checkpoint needs both");
                }
            }
            return null;
        }
        return new DmsSettings(f.requiredInt("dms_window_size"), f.requiredDouble("dms_alpha_scale"),
                f.requiredDouble("dms_initial_alpha_offset"), f.optionalInt("dms_cr", 0));
    }
}
