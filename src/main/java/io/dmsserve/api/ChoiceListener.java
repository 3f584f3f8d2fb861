package io.dmsserve.api;

import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationListener;
import io.dmsserve.scheduler.Usage;
import io.dmsserve.tokenizer.IncrementalDetokenizer;
import io.dmsserve.sampling.Logprobs;
import java.util.ArrayList;
import java.util.List;

/**
 * One choice's sequence, seen from the engine thread: detokenizes, holds back possible stop-string
 * prefixes and hands text to the request's {@link Generation}. Never blocks.
 */
final class ChoiceListener implements GenerationListener {

    private final int index;
    private final Generation generation;
    private final IncrementalDetokenizer detokenizer;
    private final StopMatcher stop;
    private final TokenPieces pieces;       // null: no logprobs asked for
    private List<TokenLogprob> logprobs;    // of tokens whose text has not gone out yet
    private int textLength;                 // chars detokenized so far, stop strings not yet cut
    private final ChoiceExtras extras;

    ChoiceListener(int index, Generation generation, IncrementalDetokenizer detokenizer, List<String> stops) {
        this(index, generation, detokenizer, stops, null);
    }

    ChoiceListener(int index, Generation generation, IncrementalDetokenizer detokenizer, List<String> stops,
            TokenPieces pieces) {
        this(index, generation, detokenizer, stops, pieces, ChoiceExtras.NONE);
    }

    ChoiceListener(int index, Generation generation, IncrementalDetokenizer detokenizer, List<String> stops,
            TokenPieces pieces, ChoiceExtras extras) {
        this.extras = extras;
        this.index = index;
        this.generation = generation;
        this.detokenizer = detokenizer;
        this.stop = new StopMatcher(stops);
        this.pieces = pieces;
        this.logprobs = pieces == null ? null : new ArrayList<>();
    }

    @Override
    public boolean onToken(int tokenId) {
        return onToken(tokenId, null);
    }

    @Override
    public boolean onToken(int tokenId, Logprobs tokenLogprobs) {
        if (extras.reasoning() != null) {
            extras.reasoning().accept(tokenId);
        }
        if (pieces != null && tokenLogprobs != null) {
            logprobs.add(pieces.logprob(tokenId, tokenLogprobs, textLength));
        }
        String piece = detokenizer.push(tokenId);
        textLength += piece.length();
        emit(stop.accept(piece));
        return !stop.stopped();
    }

    private void emit(String text) {
        if (!text.isEmpty() || (logprobs != null && !logprobs.isEmpty())) {
            generation.text(index, text, logprobs);
            logprobs = pieces == null ? null : new ArrayList<>();
        }
    }

    @Override
    public void onComplete(FinishReason reason, Usage usage) {
        if ((reason == FinishReason.STOP || reason == FinishReason.LENGTH) && !stop.stopped()) {
            emit(stop.finish(detokenizer.flush()));
            if (stop.stopped()) {
                reason = FinishReason.STOP; // the flushed end of the text completed a stop string
            }
        }
        if (logprobs != null && !logprobs.isEmpty() && reason != FinishReason.CANCELLED) {
            emit(""); // tokens whose text a stop string swallowed still have their logprobs
        }
        generation.finished(index, reason, usage, extras.reasoning() == null ? 0 : extras.reasoning().count());
    }

    @Override
    public void onError(RuntimeException error) {
        generation.failed(index, error);
    }
}
