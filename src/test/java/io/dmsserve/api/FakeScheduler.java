package io.dmsserve.api;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.when;

import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationHandle;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.Usage;
import io.dmsserve.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Drives the Mockito double of the {@link Scheduler} in the API slices: a context length, and for every submitted
 * sequence a known list of tokens, honouring the listener's contract (onToken returning false stops the
 * sequence with STOP; completion tokens count what was emitted; exactly one onComplete). Tokens are given as
 * text of single byte-level characters, so each token's text is known without a model: {@link #tokens}.
 */
final class FakeScheduler {

    static final int CONTEXT = 4096;

    final List<GenerationRequest> submitted = new CopyOnWriteArrayList<>();
    final AtomicInteger cancelled = new AtomicInteger();
    private final Scheduler scheduler;

    FakeScheduler(Scheduler scheduler) {
        this.scheduler = scheduler;
        when(scheduler.contextLength()).thenReturn(CONTEXT);
    }

    /** Every sequence generates these tokens, then ends with {@code reason} unless a stop string ends it first. */
    FakeScheduler emits(int[] tokens, FinishReason reason) {
        doAnswer(invocation -> {
            List<GenerationRequest> requests = invocation.getArgument(0);
            List<GenerationHandle> handles = new ArrayList<>();
            for (GenerationRequest request : requests) {
                submitted.add(request);
                handles.add(cancelled::incrementAndGet);
            }
            for (GenerationRequest request : requests) {
                int emitted = 0;
                boolean stopped = false;
                for (int token : tokens) {
                    if (emitted == request.maxTokens()) {
                        break;
                    }
                    emitted++;
                    if (!request.listener().onToken(token)) {
                        stopped = true;
                        break;
                    }
                }
                FinishReason end = stopped ? FinishReason.STOP : emitted == request.maxTokens() ? FinishReason.LENGTH
                        : reason;
                request.listener().onComplete(end, new Usage(request.promptTokens().length, emitted));
            }
            return handles;
        }).when(scheduler).submitAll(any());
        return this;
    }

    /** Every sequence generates these tokens, then fails with {@code error} (as the engine reports a failure). */
    FakeScheduler failsAfter(int[] tokens, RuntimeException error) {
        doAnswer(invocation -> {
            List<GenerationRequest> requests = invocation.getArgument(0);
            List<GenerationHandle> handles = new ArrayList<>();
            for (GenerationRequest request : requests) {
                submitted.add(request);
                handles.add(cancelled::incrementAndGet);
            }
            for (GenerationRequest request : requests) {
                for (int token : tokens) {
                    request.listener().onToken(token);
                }
                request.listener().onError(error);
            }
            return handles;
        }).when(scheduler).submitAll(any());
        return this;
    }

    /** submitAll refuses with this exception. */
    FakeScheduler refuses(RuntimeException e) {
        doAnswer(invocation -> {
            List<GenerationRequest> requests = invocation.getArgument(0);
            submitted.addAll(requests);
            throw e;
        }).when(scheduler).submitAll(any());
        return this;
    }

    /**
     * The token ids of text, one per character, through the byte-level alphabet of GPT-2 style BPE (a space is
     * "Ġ"): the tiny model's vocabulary has every single byte, so the text of each token is its character.
     */
    static int[] tokens(Tokenizer tokenizer, String asciiText) {
        int[] ids = new int[asciiText.length()];
        for (int i = 0; i < ids.length; i++) {
            char c = asciiText.charAt(i);
            String symbol = c == ' ' ? "\u0120" : c == '\n' ? "\u010a" : String.valueOf(c);
            ids[i] = tokenizer.tokenId(symbol).orElseThrow(() -> new AssertionError("no token for " + symbol));
        }
        return ids;
    }
}
