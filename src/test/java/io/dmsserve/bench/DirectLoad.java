package io.dmsserve.bench;

import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationListener;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.Usage;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The roofline for the HTTP layer: the same requests submitted straight to the scheduler, tokens counted in
 * the listener on the engine thread. No HTTP, JSON, chat template, tokenizer or detokenizer.
 */
final class DirectLoad {

    private final Scheduler scheduler;
    private final Set<Integer> eosTokenIds;

    DirectLoad(Scheduler scheduler, Set<Integer> eosTokenIds) {
        this.scheduler = scheduler;
        this.eosTokenIds = eosTokenIds;
    }

    LoadResult run(List<int[]> prompts, int maxTokens) {
        CountDownLatch done = new CountDownLatch(prompts.size());
        List<Stream> streams = new ArrayList<>();
        double cpuStart = LoadResult.processCpuSeconds();
        double engineCpuStart = LoadResult.engineThreadCpuSeconds();
        long start = System.nanoTime();
        for (int[] prompt : prompts) {
            Stream stream = new Stream(done);
            streams.add(stream);
            scheduler.submit(new GenerationRequest(prompt, maxTokens, SamplingParams.GREEDY, eosTokenIds, null, null, stream));
        }
        try {
            if (!done.await(10, TimeUnit.MINUTES)) {
                throw new IllegalStateException("direct load did not finish within 10 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpuSeconds = LoadResult.processCpuSeconds() - cpuStart;
        double engineCpuSeconds = LoadResult.engineThreadCpuSeconds() - engineCpuStart;
        long tokens = 0;
        int errors = 0;
        List<String> samples = new ArrayList<>();
        double[] ttft = new double[streams.size()];
        for (int i = 0; i < streams.size(); i++) {
            Stream s = streams.get(i);
            tokens += s.usage == null ? s.tokens : s.usage.completionTokens();
            ttft[i] = (s.firstToken - start) / 1e6;
            if (s.error != null || s.reason == null || s.reason == FinishReason.CANCELLED || s.reason == FinishReason.TIMEOUT) {
                errors++;
                if (samples.size() < 5) {
                    samples.add(s.error != null ? s.error.toString() : "finish " + s.reason);
                }
            }
        }
        return new LoadResult(prompts.size(), tokens, seconds, cpuSeconds, engineCpuSeconds, ttft, errors, samples);
    }

    private static final class Stream implements GenerationListener {
        private final CountDownLatch done;
        volatile long firstToken;
        volatile int tokens;
        volatile FinishReason reason;
        volatile Usage usage;
        volatile RuntimeException error;

        Stream(CountDownLatch done) {
            this.done = done;
        }

        @Override
        public boolean onToken(int tokenId) {
            if (tokens++ == 0) {
                firstToken = System.nanoTime();
            }
            return true;
        }

        @Override
        public void onComplete(FinishReason reason, Usage usage) {
            this.reason = reason;
            this.usage = usage;
            if (firstToken == 0) {
                firstToken = System.nanoTime();
            }
            done.countDown();
        }

        @Override
        public void onError(RuntimeException error) {
            this.error = error;
            if (firstToken == 0) {
                firstToken = System.nanoTime();
            }
            done.countDown();
        }
    }
}
