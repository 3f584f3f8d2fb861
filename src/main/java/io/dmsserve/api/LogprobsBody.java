package io.dmsserve.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The {@code logprobs} object of a choice, in the shape of each endpoint. */
final class LogprobsBody {

    private LogprobsBody() {
    }

    /** Chat: {@code {"content": [...], "refusal": null}}. */
    record Chat(List<TokenLogprob> content, Object refusal) {
    }

    /** Completions (the legacy shape): parallel lists, top alternatives as token → logprob maps. */
    record Completion(List<String> tokens, List<Float> tokenLogprobs, List<Map<String, Float>> topLogprobs,
            List<Integer> textOffset) {
    }

    static Chat chat(List<TokenLogprob> logprobs) {
        return logprobs == null ? null : new Chat(logprobs, null);
    }

    static Completion completion(List<TokenLogprob> logprobs) {
        if (logprobs == null) {
            return null;
        }
        List<String> tokens = new ArrayList<>();
        List<Float> values = new ArrayList<>();
        List<Map<String, Float>> top = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        for (TokenLogprob p : logprobs) {
            tokens.add(p.token());
            values.add(p.logprob());
            Map<String, Float> alternatives = new LinkedHashMap<>();
            p.topLogprobs().forEach(t -> alternatives.putIfAbsent(t.token(), t.logprob()));
            top.add(alternatives);
            offsets.add(p.textOffset());
        }
        return new Completion(tokens, values, top, offsets);
    }
}
