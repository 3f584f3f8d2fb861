package io.dmsserve.api;

import java.util.ArrayList;
import java.util.List;

/** The events of a non-streamed request gathered into whole choices. */
final class CollectedChoices {

    private final StringBuilder[] texts;
    private final String[] finishReasons;
    private final List<List<TokenLogprob>> logprobs = new ArrayList<>();
    private GenerationEvent.Done done;

    CollectedChoices(int n) {
        texts = new StringBuilder[n];
        finishReasons = new String[n];
        for (int i = 0; i < n; i++) {
            texts[i] = new StringBuilder();
            logprobs.add(null);
        }
    }

    /** Adds one event; a failure becomes the request's error. */
    CollectedChoices add(GenerationEvent event) {
        if (event instanceof GenerationEvent.Text t) {
            texts[t.index()].append(t.text());
            if (t.logprobs() != null) {
                if (logprobs.get(t.index()) == null) {
                    logprobs.set(t.index(), new ArrayList<>());
                }
                logprobs.get(t.index()).addAll(t.logprobs());
            }
        } else if (event instanceof GenerationEvent.Finished f) {
            finishReasons[f.index()] = f.reason();
        } else if (event instanceof GenerationEvent.Done d) {
            done = d;
        } else if (event instanceof GenerationEvent.Failed failed) {
            throw failed.error();
        }
        return this;
    }

    /** Whether every choice finished (false only when the request was cancelled). */
    boolean complete() {
        return done != null;
    }

    int size() {
        return texts.length;
    }

    String text(int i) {
        return texts[i].toString();
    }

    /** The choice's token logprobs; null when none were asked for. */
    List<TokenLogprob> logprobs(int i) {
        return logprobs.get(i);
    }

    String finishReason(int i) {
        return finishReasons[i];
    }

    UsageBody usage() {
        return UsageBody.of(done);
    }
}
