package io.dmsserve.config;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.tokenizer.Tokenizer;
import java.util.Set;
import java.util.TreeSet;

/** The model this server serves: its id for clients, weights, tokenizer, backend and default policy. */
public record ServingModel(String id, Checkpoint checkpoint, Tokenizer tokenizer, Backend backend,
        EvictionPolicy policy, boolean embedded) {

    /** Tokens that end a generation: the tokenizer's end tokens and those of generation_config.json. */
    public Set<Integer> eosTokenIds() {
        Set<Integer> ids = new TreeSet<>(tokenizer.eosTokenIds());
        checkpoint.generationConfig().ifPresent(config -> ids.addAll(config.eosTokenIds()));
        return Set.copyOf(ids);
    }
}
