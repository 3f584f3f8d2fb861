package io.dmsserve.engine.cpu;

import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.Tensor;

/**
 * One decoder layer's weights: projections stay memory-mapped, the small norm vectors are read once. Names as
 * in llama2.c and our CUDA kernels: wq wk wv wo for attention, w1 (gate_proj) w2 (down_proj) w3 (up_proj) for
 * the SwiGLU feed-forward.
 */
record LayerWeights(
        float[] attnNorm,      // (hidden)              input_layernorm
        Tensor wq,             // (heads * headDim, hidden)
        Tensor wk,             // (kvHeads * headDim, hidden)
        Tensor wv,             // (kvHeads * headDim, hidden)
        float[] qNorm,         // (headDim)
        float[] kNorm,         // (headDim)
        Tensor wo,             // (hidden, heads * headDim)
        float[] ffnNorm,       // (hidden)              post_attention_layernorm
        Tensor w1,             // (intermediate, hidden) gate_proj
        Tensor w3,             // (intermediate, hidden) up_proj
        Tensor w2) {           // (hidden, intermediate) down_proj

    static LayerWeights load(Checkpoint checkpoint, int layer) {
        String p = "model.layers." + layer + ".";
        return new LayerWeights(
                vector(checkpoint.tensor(p + "input_layernorm.weight")),
                checkpoint.tensor(p + "self_attn.q_proj.weight"),
                checkpoint.tensor(p + "self_attn.k_proj.weight"),
                checkpoint.tensor(p + "self_attn.v_proj.weight"),
                vector(checkpoint.tensor(p + "self_attn.q_norm.weight")),
                vector(checkpoint.tensor(p + "self_attn.k_norm.weight")),
                checkpoint.tensor(p + "self_attn.o_proj.weight"),
                vector(checkpoint.tensor(p + "post_attention_layernorm.weight")),
                checkpoint.tensor(p + "mlp.gate_proj.weight"),
                checkpoint.tensor(p + "mlp.up_proj.weight"),
                checkpoint.tensor(p + "mlp.down_proj.weight"));
    }

    static float[] vector(Tensor tensor) {
        float[] out = new float[(int) tensor.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = tensor.get(i);
        }
        return out;
    }
}
