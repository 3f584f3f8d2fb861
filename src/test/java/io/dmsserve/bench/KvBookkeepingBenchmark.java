package io.dmsserve.bench;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.kvcache.KvCacheManager;
import java.util.Locale;

/**
 * The engine's own KV bookkeeping per decode step, without a backend (issue 7: the host's share of a GPU step; not
 * a test, results in docs/benchmarks.md). A {@link KvCacheManager} of Qwen3-8B's shape (36 layers x 8 KV heads,
 * pages of 16) opens {@code --batch} sequences, prefills {@code --prompt} tokens each in chunks of 2,048 with no
 * flags (policy none: every token stays), collects the garbage, then times rounds of {@code --steps} decode steps:
 * reserve one token per sequence, take the page-table delta, commit the step's decisions. That is what
 * {@code StepExecutor.run} does around {@code Backend.step}. The first round includes what crossing a page or a
 * power-of-two length costs right after the prompt.
 *
 * <pre>
 * ./mvnw -q test-compile
 * java -Xmx8g -cp target/classes:target/test-classes io.dmsserve.bench.KvBookkeepingBenchmark \
 *     --prompt 32768 --batch 16 --steps 32 --rounds 3
 * </pre>
 */
public final class KvBookkeepingBenchmark {

    private KvBookkeepingBenchmark() {
    }

    public static void main(String[] args) {
        int layers = 36;
        int kvHeads = 8;
        int pageSize = 16;
        int batch = 16;
        int prompt = 4096;
        int steps = 200;
        int rounds = 3;
        for (int i = 0; i + 1 < args.length; i += 2) {
            int value = Integer.parseInt(args[i + 1]);
            switch (args[i]) {
                case "--layers" -> layers = value;
                case "--kv-heads" -> kvHeads = value;
                case "--page-size" -> pageSize = value;
                case "--batch" -> batch = value;
                case "--prompt" -> prompt = value;
                case "--steps" -> steps = value;
                case "--rounds" -> rounds = value;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        warmUp(layers, kvHeads, pageSize, batch);
        int context = prompt + steps * rounds + 1;
        int pagesPerHead = KvCacheManager.pagesPerHead(context, pageSize);
        KvCacheManager cache = new KvCacheManager(layers, kvHeads, pageSize, batch * layers * kvHeads * pagesPerHead,
                batch, pagesPerHead);
        EvictionPolicy none = EvictionPolicies.create("none", 0f, null);
        prefill(cache, none, batch, prompt, layers, kvHeads);
        System.gc();
        byte[] noFlags = new byte[layers * kvHeads];
        for (int round = 1; round <= rounds; round++) {
            long[] nanos = decode(cache, batch, steps, noFlags, layers, kvHeads);
            double perStep = 1e6 * steps;
            System.out.printf(Locale.ROOT, "round %d: %d sequences x %d heads after %d tokens: %.3f ms a step"
                    + " (reserve %.3f, delta %.3f, commit %.3f)%n", round, batch, layers * kvHeads, prompt,
                    (nanos[0] + nanos[1] + nanos[2]) / perStep, nanos[0] / perStep, nanos[1] / perStep,
                    nanos[2] / perStep);
        }
    }

    /** The same code on a throwaway cache first, so that the rounds time compiled code, not the JIT. */
    private static void warmUp(int layers, int kvHeads, int pageSize, int batch) {
        int pagesPerHead = KvCacheManager.pagesPerHead(2 * 4096, pageSize);
        KvCacheManager cache = new KvCacheManager(layers, kvHeads, pageSize, batch * layers * kvHeads * pagesPerHead,
                batch, pagesPerHead);
        prefill(cache, EvictionPolicies.create("none", 0f, null), batch, 2048, layers, kvHeads);
        decode(cache, batch, 4000, new byte[layers * kvHeads], layers, kvHeads);
    }

    private static void prefill(KvCacheManager cache, EvictionPolicy policy, int batch, int prompt, int layers,
            int kvHeads) {
        for (int s = 0; s < batch; s++) {
            cache.open(s, policy);
            for (int at = 0; at < prompt; at += 2048) {
                int length = Math.min(2048, prompt - at);
                cache.reserve(s, length);
                cache.takeDelta();
                cache.commit(s, new Decisions(length, layers, kvHeads, new byte[length * layers * kvHeads], 0));
            }
        }
    }

    /** Nanoseconds in reserve, takeDelta and commit over {@code steps} decode steps of every sequence. */
    private static long[] decode(KvCacheManager cache, int batch, int steps, byte[] noFlags, int layers, int kvHeads) {
        long reserve = 0;
        long delta = 0;
        long commit = 0;
        for (int t = 0; t < steps; t++) {
            long t0 = System.nanoTime();
            for (int s = 0; s < batch; s++) {
                cache.reserve(s, 1);
            }
            long t1 = System.nanoTime();
            cache.takeDelta();
            long t2 = System.nanoTime();
            for (int s = 0; s < batch; s++) {
                cache.commit(s, new Decisions(1, layers, kvHeads, noFlags, 0));
            }
            long t3 = System.nanoTime();
            reserve += t1 - t0;
            delta += t2 - t1;
            commit += t3 - t2;
        }
        return new long[] {reserve, delta, commit};
    }
}
