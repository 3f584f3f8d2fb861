package io.dmsserve.config;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.tokenizer.Tokenizer;

/** The model this server serves: its id for clients, weights, tokenizer, backend and default policy. */
public record ServingModel(String id, Checkpoint checkpoint, Tokenizer tokenizer, Backend backend,
        EvictionPolicy policy, boolean embedded) {
}
