package io.dmsserve.api;

import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationListener;
import io.dmsserve.scheduler.Usage;
import io.dmsserve.tokenizer.IncrementalDetokenizer;
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

    ChoiceListener(int index, Generation generation, IncrementalDetokenizer detokenizer, List<String> stops) {
        this.index = index;
        this.generation = generation;
        this.detokenizer = detokenizer;
        this.stop = new StopMatcher(stops);
    }

    @Override
    public boolean onToken(int tokenId) {
        String text = stop.accept(detokenizer.push(tokenId));
        if (!text.isEmpty()) {
            generation.text(index, text);
        }
        return !stop.stopped();
    }

    @Override
    public void onComplete(FinishReason reason, Usage usage) {
        if ((reason == FinishReason.STOP || reason == FinishReason.LENGTH) && !stop.stopped()) {
            String rest = stop.finish(detokenizer.flush());
            if (!rest.isEmpty()) {
                generation.text(index, rest);
            }
            if (stop.stopped()) {
                reason = FinishReason.STOP; // the flushed end of the text completed a stop string
            }
        }
        generation.finished(index, reason, usage);
    }

    @Override
    public void onError(RuntimeException error) {
        generation.failed(index, error);
    }
}
