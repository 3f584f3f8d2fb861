package io.dmsserve.engine;

import io.dmsserve.sampling.SamplingDefaults;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;

/**
 * The sampling defaults of generation_config.json. Absent fields are null (the server then uses its own
 * defaults); {@code eos_token_id} may be one id or a list and is always a list here, empty when absent.
 */
public record GenerationConfig(List<Integer> eosTokenIds, Double temperature, Double topP, Integer topK) {

    public GenerationConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    public SamplingDefaults samplingDefaults() {
        return new SamplingDefaults(temperature, topP, topK);
    }

    public static GenerationConfig parse(Path generationConfigJson) {
        JsonFields f = new JsonFields(generationConfigJson, Json.readObject(generationConfigJson));
        List<Integer> eos = new ArrayList<>();
        f.optional("eos_token_id").ifPresent(v -> {
            if (v.isArray()) {
                v.forEach(id -> eos.add(tokenId(f, id)));
            } else {
                eos.add(tokenId(f, v));
            }
        });
        Double temperature = f.optional("temperature").map(v -> f.toDouble("temperature", v)).orElse(null);
        if (temperature != null && !(temperature >= 0 && Double.isFinite(temperature))) {
            throw f.error("temperature", "must be a finite number >= 0, got " + temperature);
        }
        Double topP = f.optional("top_p").map(v -> f.toDouble("top_p", v)).orElse(null);
        if (topP != null && !(topP > 0 && topP <= 1)) {
            throw f.error("top_p", "must be in (0, 1], got " + topP);
        }
        Integer topK = f.optional("top_k").map(v -> f.toInt("top_k", v)).orElse(null);
        if (topK != null && topK < 0) {
            throw f.error("top_k", "must not be negative, got " + topK);
        }
        return new GenerationConfig(eos, temperature, topP, topK);
    }

    private static int tokenId(JsonFields f, JsonNode v) {
        int id = f.toInt("eos_token_id", v);
        if (id < 0) {
            throw f.error("eos_token_id", "must hold non-negative token ids, got " + id);
        }
        return id;
    }
}
