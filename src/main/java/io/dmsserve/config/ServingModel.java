package io.dmsserve.config;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.sampling.SamplingDefaults;
import io.dmsserve.tokenizer.Tokenizer;
import java.util.Set;

/**
 * The model this server serves, as the API sees it: its id for clients, tokenizer, end tokens, sampling
 * defaults, and the default eviction policy. The weights and the backend stay behind the scheduler.
 *
 * @param eosTokenIds tokens that end a generation: the tokenizer's end tokens and generation_config.json's
 * @param backend the backend's name, for health and logs
 */
public record ServingModel(String id, Tokenizer tokenizer, Set<Integer> eosTokenIds, SamplingDefaults defaults,
        EvictionPolicy policy, String backend, boolean embedded) {

    public ServingModel {
        eosTokenIds = Set.copyOf(eosTokenIds);
    }
}
