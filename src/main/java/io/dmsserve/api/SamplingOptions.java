package io.dmsserve.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
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
 * @param minP an extension (vLLM's): keep tokens at least min_p times as likely as the most likely one
 * @param presencePenalty OpenAI's, in [-2, 2]
 * @param frequencyPenalty OpenAI's, in [-2, 2]
 * @param repetitionPenalty an extension (vLLM's, Hugging Face semantics), in (0, 2]
 * @param logitBias OpenAI's {@code logit_bias}: token id to a bias in [-100, 100]; ids checked against the vocabulary later
 * @param topLogprobs null: no logprobs; 0: the chosen token's only; up to 20 most likely tokens besides
 */
record SamplingOptions(Integer maxTokens, String maxTokensParam, Double temperature, Double topP, Integer topK, Long seed, List<String> stop,
        int n, boolean stream, boolean includeUsage, Double minP, Double presencePenalty, Double frequencyPenalty,
        Double repetitionPenalty, Map<Integer, Float> logitBias, Integer topLogprobs) {

    static final int MAX_STOP = 4;
    static final int MAX_TOP_LOGPROBS = 20;
    static final int MAX_LOGIT_BIAS = 300;

    /** How the request asks for logprobs: chat has a boolean and top_logprobs, completions one integer. */
    enum Logprobs { CHAT, COMPLETION }

    static SamplingOptions parse(Fields body, int maxN) {
        return parse(body, maxN, Logprobs.CHAT);
    }

    static SamplingOptions parse(Fields body, int maxN, Logprobs logprobsStyle) {
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
        Double minP = body.number("min_p", 0, false, 1);
        Double presence = body.number("presence_penalty", -2, false, 2);
        Double frequency = body.number("frequency_penalty", -2, false, 2);
        Double repetition = body.number("repetition_penalty", 0, true, 2);
        Map<Integer, Float> logitBias = logitBias(body);
        Integer topLogprobs = logprobsStyle == Logprobs.CHAT ? chatLogprobs(body) : completionLogprobs(body);
        return new SamplingOptions(maxTokens != null ? maxTokens : legacyMaxTokens,
                maxTokens != null ? "max_completion_tokens" : "max_tokens", temperature, topP,
                topK == null || topK == -1 ? null : topK, seed, stop, n == null ? 1 : n, Boolean.TRUE.equals(stream),
                Boolean.TRUE.equals(includeUsage), minP, presence, frequency, repetition, logitBias, topLogprobs);
    }

    /** Chat: {@code logprobs} true turns them on, {@code top_logprobs} (0..20) needs it. */
    private static Integer chatLogprobs(Fields body) {
        Boolean logprobs = body.bool("logprobs");
        Integer top = body.integer("top_logprobs", 0, MAX_TOP_LOGPROBS, false);
        if (top != null && !Boolean.TRUE.equals(logprobs)) {
            throw ApiException.invalidValue("top_logprobs", "'logprobs' must be set to true when 'top_logprobs' is given.");
        }
        return Boolean.TRUE.equals(logprobs) ? (top == null ? 0 : top) : null;
    }

    /** Completions: {@code logprobs} is the number of most likely tokens to list (0..20, OpenAI allows up to 5). */
    private static Integer completionLogprobs(Fields body) {
        return body.integer("logprobs", 0, MAX_TOP_LOGPROBS, false);
    }

    /** {@code {"<token id>": bias}}: ids are decimal strings, biases numbers in [-100, 100]. */
    private static Map<Integer, Float> logitBias(Fields body) {
        Fields bias = body.object("logit_bias");
        if (bias == null) {
            return Map.of();
        }
        if (bias.node().size() > MAX_LOGIT_BIAS) {
            throw ApiException.invalidValue("logit_bias", "too many entries. Expected at most " + MAX_LOGIT_BIAS
                    + ", but got " + bias.node().size() + " instead.");
        }
        Map<Integer, Float> out = new TreeMap<>();
        for (String key : bias.node().propertyNames()) {
            int id;
            try {
                id = Integer.parseInt(key);
            } catch (NumberFormatException e) {
                id = -1;
            }
            if (id < 0 || !key.equals(Integer.toString(id))) {
                throw ApiException.invalidValue("logit_bias", "'" + Text.quote(key)
                        + "' is not a token id; keys must be token ids written as decimal integers.");
            }
            Double value = bias.number(key, -100, false, 100);
            if (value != null) {
                out.put(id, value.floatValue());
            }
        }
        return out;
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
