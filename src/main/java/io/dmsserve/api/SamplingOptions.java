package io.dmsserve.api;

import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;

/**
 * The generation parameters chat and text completions share. Null means "not given": the model's
 * generation_config.json default applies, then the server's.
 *
 * @param maxTokens {@code max_completion_tokens}, else {@code max_tokens}; null: up to the context length
 * @param maxTokensParam the name the limit was given under, for error messages
 * @param topK an extension (vLLM's); 0 or -1: all tokens
 * @param stop stop strings, never empty strings, at most 4
 * @param n choices to generate, each its own sequence (seed + index when a seed is given)
 */
record SamplingOptions(Integer maxTokens, String maxTokensParam, Double temperature, Double topP, Integer topK, Long seed, List<String> stop,
        int n, boolean stream, boolean includeUsage) {

    static final int MAX_STOP = 4;

    static SamplingOptions parse(Fields body, int maxN) {
        Integer maxTokens = body.integer("max_completion_tokens", 1, Integer.MAX_VALUE, true);
        Integer legacyMaxTokens = body.integer("max_tokens", 1, Integer.MAX_VALUE, true);
        Double temperature = body.number("temperature", 0, false, 2);
        Double topP = body.number("top_p", 0, true, 1);
        Integer topK = body.integer("top_k", -1, Integer.MAX_VALUE, true);
        Long seed = body.longInteger("seed");
        List<String> stop = stop(body);
        Integer n = body.integer("n", 1, maxN, false);
        Boolean stream = body.bool("stream");
        Fields streamOptions = body.object("stream_options");
        Boolean includeUsage = streamOptions == null ? null : streamOptions.bool("include_usage");
        return new SamplingOptions(maxTokens != null ? maxTokens : legacyMaxTokens,
                maxTokens != null ? "max_completion_tokens" : "max_tokens", temperature, topP,
                topK == null || topK == -1 ? null : topK, seed, stop, n == null ? 1 : n, Boolean.TRUE.equals(stream),
                Boolean.TRUE.equals(includeUsage));
    }

    private static List<String> stop(Fields body) {
        JsonNode value = body.get("stop");
        if (value == null) {
            return List.of();
        }
        List<String> stops = new ArrayList<>();
        if (value.isString()) {
            stops.add(value.stringValue());
        } else if (value.isArray()) {
            if (value.size() > MAX_STOP) {
                throw ApiException.invalidValue("stop", "array too long. Expected at most " + MAX_STOP
                        + " stop sequences, but got " + value.size() + " instead.");
            }
            for (int i = 0; i < value.size(); i++) {
                JsonNode s = value.get(i);
                if (!s.isString()) {
                    throw ApiException.invalidType("stop[" + i + "]", "a string", Fields.describe(s));
                }
                stops.add(s.stringValue());
            }
        } else {
            throw ApiException.invalidType("stop", "a string or an array of strings", Fields.describe(value));
        }
        // An empty stop string would end every sequence at once; like other servers, it is ignored.
        return stops.stream().filter(s -> !s.isEmpty()).map(Text::wellFormed).distinct().toList();
    }
}
