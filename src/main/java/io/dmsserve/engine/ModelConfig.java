package io.dmsserve.engine;

import io.dmsserve.dms.DmsSettings;
import java.nio.file.Path;

/**
 * The parts of a Hugging Face Qwen3 config.json that shape the forward pass. Validation messages use the
 * JSON field names, so that the same message serves a config.json and a hand-built record.
 *
 * @param dms the DMS settings of a Qwen3-DMS checkpoint; null for a plain model
 */
public record ModelConfig(String architecture, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
        int numKvHeads, int headDim, int vocabSize, double ropeTheta, double rmsNormEps, boolean tieWordEmbeddings,
        int maxPositionEmbeddings, DmsSettings dms) {

    /** The only architecture whose weights and forward pass the engine implements. */
    public static final String QWEN3 = "Qwen3ForCausalLM";

    public ModelConfig {
        if (!QWEN3.equals(architecture)) {
            throw new IllegalArgumentException("unsupported architecture " + architecture + " (supported: " + QWEN3 + ")");
        }
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        positive("vocab_size", vocabSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("field 'num_key_value_heads' (" + numKvHeads
                    + ") must divide field 'num_attention_heads' (" + numHeads + ")");
        }
        // Rotate-half RoPE pairs channel i with channel i + head_dim/2.
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("field 'head_dim' must be even for rotary embeddings, got " + headDim);
        }
        if ((long) numHeads * headDim > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("num_attention_heads * head_dim overflows an int");
        }
        if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) {
            throw new IllegalArgumentException("field 'rope_theta' must be a positive finite number, got " + ropeTheta);
        }
        if (!(rmsNormEps > 0) || Double.isInfinite(rmsNormEps)) {
            throw new IllegalArgumentException("field 'rms_norm_eps' must be a positive finite number, got " + rmsNormEps);
        }
    }

    public boolean isDms() {
        return dms != null;
    }

    /** Query heads per KV head (GQA group size G). */
    public int groupSize() {
        return numHeads / numKvHeads;
    }

    /** Rows of q_proj: num_attention_heads * head_dim. */
    public int qDim() {
        return numHeads * headDim;
    }

    /** Rows of k_proj and v_proj: num_key_value_heads * head_dim. */
    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** Reads and validates a config.json; a {@link CheckpointException} names the file and the field. */
    public static ModelConfig parse(Path configJson) {
        return ModelConfigReader.read(configJson);
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("field '" + field + "' must be positive, got " + value);
        }
    }
}
