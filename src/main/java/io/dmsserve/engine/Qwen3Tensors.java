package io.dmsserve.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The Hugging Face tensor names of a Qwen3 causal LM and the shapes its config implies. */
final class Qwen3Tensors {

    static final String EMBED_TOKENS = "model.embed_tokens.weight";
    static final String FINAL_NORM = "model.norm.weight";
    static final String LM_HEAD = "lm_head.weight";

    /** A tensor the forward pass reads; {@code required} is false only for lm_head of a tied model. */
    record Expected(String name, long[] shape, boolean required) {
    }

    private Qwen3Tensors() {
    }

    static String layer(int layer, String suffix) {
        return "model.layers." + layer + "." + suffix;
    }

    static List<Expected> expected(ModelConfig c) {
        long hidden = c.hiddenSize();
        long inter = c.intermediateSize();
        long q = c.qDim();
        long kv = c.kvDim();
        List<Expected> out = new ArrayList<>();
        out.add(new Expected(EMBED_TOKENS, new long[] {c.vocabSize(), hidden}, true));
        for (int i = 0; i < c.numLayers(); i++) {
            out.add(new Expected(layer(i, "input_layernorm.weight"), new long[] {hidden}, true));
            out.add(new Expected(layer(i, "self_attn.q_proj.weight"), new long[] {q, hidden}, true));
            out.add(new Expected(layer(i, "self_attn.k_proj.weight"), new long[] {kv, hidden}, true));
            out.add(new Expected(layer(i, "self_attn.v_proj.weight"), new long[] {kv, hidden}, true));
            out.add(new Expected(layer(i, "self_attn.o_proj.weight"), new long[] {hidden, q}, true));
            out.add(new Expected(layer(i, "self_attn.q_norm.weight"), new long[] {c.headDim()}, true));
            out.add(new Expected(layer(i, "self_attn.k_norm.weight"), new long[] {c.headDim()}, true));
            out.add(new Expected(layer(i, "post_attention_layernorm.weight"), new long[] {hidden}, true));
            out.add(new Expected(layer(i, "mlp.gate_proj.weight"), new long[] {inter, hidden}, true));
            out.add(new Expected(layer(i, "mlp.up_proj.weight"), new long[] {inter, hidden}, true));
            out.add(new Expected(layer(i, "mlp.down_proj.weight"), new long[] {hidden, inter}, true));
        }
        out.add(new Expected(FINAL_NORM, new long[] {hidden}, true));
        out.add(new Expected(LM_HEAD, new long[] {c.vocabSize(), hidden}, !c.tieWordEmbeddings()));
        return out;
    }

    /** Every required tensor is present, and every expected tensor that is present has its config shape. */
    static void check(ModelConfig c, WeightFiles weights) {
        for (Expected e : expected(c)) {
            TensorEntry t = weights.entries.get(e.name());
            if (t == null) {
                if (e.required()) {
                    String hint = e.name().equals(LM_HEAD) ? "; tie_word_embeddings is false in config.json" : "";
                    throw new CheckpointException(weights.primary, "tensor '" + e.name() + "' is missing (searched "
                            + weights.searchedNames() + hint + ")");
                }
                continue;
            }
            if (!Arrays.equals(t.shape(), e.shape())) {
                throw new CheckpointException(t.file(), "tensor '" + e.name() + "' has shape " + TensorEntry.format(t.shape())
                        + ", config.json says " + TensorEntry.format(e.shape()));
            }
        }
    }
}
