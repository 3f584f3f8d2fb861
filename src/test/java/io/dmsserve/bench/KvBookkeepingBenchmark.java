package io.dmsserve.bench;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsSettings;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.kvcache.KvCacheManager;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The engine's own KV bookkeeping per decode step, without a backend (issue 7: the host's share of a GPU step; not
 * a test, results in docs/benchmarks.md). A {@link KvCacheManager} of Qwen3-8B's shape (36 layers x 8 KV heads,
 * pages of 16) opens {@code --batch} sequences, prefills {@code --prompt} tokens each in chunks of 2,048 with no
 * flags (policy none: every token stays), collects the garbage, then times rounds of {@code --steps} decode steps:
 * reserve one token per sequence, take the page-table delta, commit the step's decisions, through the batch calls
 * {@code StepExecutor.run} makes around {@code Backend.step} (layer ranges on several threads, {@code LayerParallel}).
 * The first round includes what crossing a page or a power-of-two length costs right after the prompt. With {@code --flag-permille F} the policy is DMS (window 512)
 * and every decision flags its token with probability F / 1000, prompt and decode alike (875: gpubench's
 * {@code --evict-rate 0.875}), so evictions free slots and pages as in a DMS run.
 *
 *
 * <p>With {@code --prefill-rounds N}, first N rounds of one prompt of {@code --prompt} tokens, opened, prefilled in
 * chunks of {@code --chunk} (2,048) through the same batch calls (its last chunk's commit the one that may repack)
 * and released: the bookkeeping a prompt costs the engine thread, round by round (the first ones run the JIT's
 * early code, as a fresh server's first prompts do).
 *
 * <pre>
 * ./mvnw -q test-compile
 * java -Xmx8g -cp target/classes:target/test-classes io.dmsserve.bench.KvBookkeepingBenchmark \
 *     --prompt 32768 --batch 16 --steps 32 --rounds 3 [--flag-permille 875]
 * java -Xmx8g -cp target/classes:target/test-classes io.dmsserve.bench.KvBookkeepingBenchmark \
 *     --prompt 4096 --prefill-rounds 20 --rounds 0 [--flag-permille 875]
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
        int flagPermille = -1;
        int prefillRounds = 0;
        int chunk = 2048;
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
                case "--flag-permille" -> flagPermille = value;
                case "--prefill-rounds" -> prefillRounds = value;
                case "--chunk" -> chunk = value;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        EvictionPolicy policy = flagPermille < 0 ? EvictionPolicies.create("none", 0f, null)
                : EvictionPolicies.create("dms", 0f, new DmsSettings(512, 100, 5, 8));
        Flags flags = new Flags(layers * kvHeads, Math.max(0, flagPermille));
        if (prefillRounds > 0) {
            int pagesPerHead = KvCacheManager.pagesPerHead(prompt, pageSize);
            KvCacheManager cache = new KvCacheManager(layers, kvHeads, pageSize, layers * kvHeads * pagesPerHead, 1,
                    pagesPerHead);
            for (int round = 1; round <= prefillRounds; round++) {
                cache.open(0, policy);
                long[] nanos = prefill(cache, 0, prompt, chunk, layers, kvHeads, flags);
                cache.release(0);
                cache.takeDelta();
                System.out.printf(Locale.ROOT, "prefill round %d (%s): %d tokens in chunks of %d x %d heads: %.2f ms"
                        + " (reserve %.2f, delta %.2f, commit %.2f)%n", round, policy, prompt, chunk,
                        layers * kvHeads, (nanos[0] + nanos[1] + nanos[2]) / 1e6, nanos[0] / 1e6, nanos[1] / 1e6,
                        nanos[2] / 1e6);
            }
        }
        if (rounds < 1) {
            return;
        }
        warmUp(layers, kvHeads, pageSize, batch);
        int context = prompt + steps * rounds + 1;
        int pagesPerHead = KvCacheManager.pagesPerHead(context, pageSize);
        KvCacheManager cache = new KvCacheManager(layers, kvHeads, pageSize, batch * layers * kvHeads * pagesPerHead,
                batch, pagesPerHead);
        prefill(cache, policy, batch, prompt, layers, kvHeads, flags);
        System.gc();
        for (int round = 1; round <= rounds; round++) {
            long[] nanos = decode(cache, batch, steps, flags, layers, kvHeads);
            double perStep = 1e6 * steps;
            System.out.printf(Locale.ROOT, "round %d (%s): %d sequences x %d heads after %d tokens: %.3f ms a step"
                    + " (reserve %.3f, delta %.3f, commit %.3f)%n", round, policy, batch, layers * kvHeads, prompt,
                    (nanos[0] + nanos[1] + nanos[2]) / perStep, nanos[0] / perStep, nanos[1] / perStep,
                    nanos[2] / perStep);
        }
    }

    /** The same code on a throwaway cache first, so that the rounds time compiled code, not the JIT. */
    private static void warmUp(int layers, int kvHeads, int pageSize, int batch) {
        int pagesPerHead = KvCacheManager.pagesPerHead(2 * 4096, pageSize);
        KvCacheManager cache = new KvCacheManager(layers, kvHeads, pageSize, batch * layers * kvHeads * pagesPerHead,
                batch, pagesPerHead);
        Flags flags = new Flags(layers * kvHeads, 875);
        prefill(cache, EvictionPolicies.create("none", 0f, null), batch, 2048, layers, kvHeads, flags);
        decode(cache, batch, 2000, flags, layers, kvHeads);
        KvCacheManager dms = new KvCacheManager(layers, kvHeads, pageSize, batch * layers * kvHeads * pagesPerHead,
                batch, pagesPerHead);
        prefill(dms, EvictionPolicies.create("dms", 0f, new DmsSettings(512, 100, 5, 8)), batch, 2048, layers, kvHeads,
                flags);
        decode(dms, batch, 2000, flags, layers, kvHeads);
    }

    /** Decision bytes of one token for every (layer, kv head), drawn once: 64 patterns used in turn. */
    private static final class Flags {
        private final byte[][] patterns = new byte[64][];
        private int next;

        Flags(int heads, int permille) {
            SplittableRandom random = new SplittableRandom(7);
            for (int i = 0; i < patterns.length; i++) {
                patterns[i] = new byte[heads];
                for (int h = 0; h < heads; h++) {
                    patterns[i][h] = (byte) (random.nextInt(1000) < permille ? 1 : 0);
                }
            }
        }

        byte[] token() {
            next = (next + 1) & 63;
            return patterns[next];
        }

        byte[] tokens(int length) {
            int heads = patterns[0].length;
            byte[] out = new byte[length * heads];
            for (int c = 0; c < length; c++) {
                System.arraycopy(token(), 0, out, c * heads, heads);
            }
            return out;
        }
    }

    private static void prefill(KvCacheManager cache, EvictionPolicy policy, int batch, int prompt, int layers,
            int kvHeads, Flags flags) {
        for (int s = 0; s < batch; s++) {
            cache.open(s, policy);
            for (int at = 0; at < prompt; at += 2048) {
                int length = Math.min(2048, prompt - at);
                cache.reserve(s, length);
                cache.takeDelta();
                cache.commit(s, new Decisions(length, layers, kvHeads, flags.tokens(length), 0));
            }
        }
    }

    /**
     * One open sequence's prompt in chunks, through the batch calls StepExecutor makes: nanoseconds in reserve,
     * takeDelta and commit (the last chunk's settled: it may repack).
     */
    private static long[] prefill(KvCacheManager cache, long id, int prompt, int chunk, int layers, int kvHeads,
            Flags flags) {
        long[] nanos = new long[3];
        for (int at = 0; at < prompt; at += chunk) {
            int length = Math.min(chunk, prompt - at);
            Decisions[] decisions = {new Decisions(length, layers, kvHeads, flags.tokens(length), 0)};
            long t0 = System.nanoTime();
            cache.reserve(new long[] {id}, new int[] {length});
            long t1 = System.nanoTime();
            cache.takeDelta();
            long t2 = System.nanoTime();
            cache.commit(new long[] {id}, decisions, new boolean[] {at + chunk >= prompt});
            long t3 = System.nanoTime();
            nanos[0] += t1 - t0;
            nanos[1] += t2 - t1;
            nanos[2] += t3 - t2;
        }
        return nanos;
    }

    /** Nanoseconds in reserve, takeDelta and commit over {@code steps} decode steps of every sequence. */
    private static long[] decode(KvCacheManager cache, int batch, int steps, Flags flags, int layers, int kvHeads) {
        long reserve = 0;
        long delta = 0;
        long commit = 0;
        long[] ids = new long[batch];
        int[] ones = new int[batch];
        for (int s = 0; s < batch; s++) {
            ids[s] = s;
            ones[s] = 1;
        }
        for (int t = 0; t < steps; t++) {
            long t0 = System.nanoTime();
            cache.reserve(ids, ones);
            long t1 = System.nanoTime();
            cache.takeDelta();
            long t2 = System.nanoTime();
            Decisions[] decisions = new Decisions[batch];
            for (int s = 0; s < batch; s++) {
                decisions[s] = new Decisions(1, layers, kvHeads, flags.token(), 0);
            }
            cache.commit(ids, decisions);
            long t3 = System.nanoTime();
            reserve += t1 - t0;
            delta += t2 - t1;
            commit += t3 - t2;
        }
        return new long[] {reserve, delta, commit};
    }
}
