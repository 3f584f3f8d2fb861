package io.dmsserve.api;

import io.dmsserve.kvcache.KvCacheFullException;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationHandle;
import io.dmsserve.scheduler.Usage;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

/**
 * The running sequences of one request (its n choices) as one Reactor stream of {@link GenerationEvent}s.
 * Listeners call in from the engine thread and only append to an unbounded unicast buffer (bounded in
 * practice by max_tokens), so a slow client never stalls the engine; when the subscriber goes away the
 * sequences are cancelled and their KV pages return within one engine step.
 */
final class Generation {

    private static final Logger log = LoggerFactory.getLogger(Generation.class);

    /** A request whose response body nobody subscribed to by then (the client left first) is cancelled. */
    private static final long UNCLAIMED_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(10);

    private final int choices;
    private final String requestId;
    private final long createdNanos = System.nanoTime();
    private volatile boolean subscribed;
    private final Sinks.Many<GenerationEvent> sink = Sinks.many().unicast().onBackpressureBuffer();
    private final List<GenerationHandle> handles = new CopyOnWriteArrayList<>();
    private int finished;          // guarded by this
    private int promptTokens;      // guarded by this
    private int completionTokens;  // guarded by this
    private int reasoningTokens;   // guarded by this
    private boolean ended;         // guarded by this

    Generation(int choices, String requestId) {
        this.choices = choices;
        this.requestId = requestId;
    }

    int choices() {
        return choices;
    }

    void add(GenerationHandle handle) {
        handles.add(handle);
    }

    /** Events until Done or Failed; cancelling the subscription cancels every sequence. */
    Flux<GenerationEvent> events() {
        // Events are emitted on the engine thread; serializing and writing them happens elsewhere, so the
        // engine's step is not lengthened by JSON, SSE encoding and socket writes.
        return sink.asFlux().doOnSubscribe(subscription -> subscribed = true).publishOn(Schedulers.parallel())
                .doOnCancel(this::cancel);
    }

    /** Stops every sequence of the request; harmless when they are done. */
    void cancel() {
        handles.forEach(GenerationHandle::cancel);
    }

    synchronized void text(int index, String text) {
        text(index, text, null);
    }

    synchronized void text(int index, String text, java.util.List<TokenLogprob> logprobs) {
        if (ended) {
            return;
        }
        if (!subscribed && System.nanoTime() - createdNanos > UNCLAIMED_NANOS) {
            // The client went away between the request and its response body: nobody will read this.
            end(null);
            cancel();
            return;
        }
        sink.tryEmitNext(new GenerationEvent.Text(index, text, logprobs));
    }

    synchronized void finished(int index, FinishReason reason, Usage usage) {
        finished(index, reason, usage, 0);
    }

    synchronized void finished(int index, FinishReason reason, Usage usage, int reasoning) {
        if (ended) {
            return;
        }
        switch (reason) {
            case STOP, LENGTH -> {
                sink.tryEmitNext(new GenerationEvent.Finished(index, reason == FinishReason.STOP ? "stop" : "length"));
                promptTokens = usage.promptTokens();
                completionTokens += usage.completionTokens();
                reasoningTokens += reasoning;
                if (++finished == choices) {
                    end(new GenerationEvent.Done(promptTokens, completionTokens, reasoningTokens));
                }
            }
            case TIMEOUT -> fail(ApiException.timeout("The request did not finish within the server's deadline."));
            case CANCELLED -> end(null); // only after cancel(): nobody is listening any more
        }
    }

    synchronized void failed(int index, RuntimeException error) {
        if (ended) {
            return;
        }
        if (error instanceof KvCacheFullException) {
            // Not a server fault: this request is larger than the configured KV cache.
            log.info("{}: choice {} refused: {}", requestId, index, error.getMessage());
            fail(ApiException.kvCacheExceeded(error.getMessage()));
            return;
        }
        log.warn("{}: choice {} failed: {}", requestId, index, error.toString());
        fail(ApiException.serverError("The generation failed: " + error.getMessage()));
    }

    private void fail(ApiException error) {
        end(new GenerationEvent.Failed(error));
        cancel();
    }

    private void end(GenerationEvent last) {
        ended = true;
        if (last != null) {
            sink.tryEmitNext(last);
        }
        sink.tryEmitComplete();
    }
}
