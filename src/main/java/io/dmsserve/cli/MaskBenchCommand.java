package io.dmsserve.cli;

import io.dmsserve.structured.Grammar;
import io.dmsserve.structured.GrammarConstraint;
import io.dmsserve.structured.Grammars;
import io.dmsserve.structured.Vocabulary;
import io.dmsserve.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code maskbench --tokenizer DIR [--steps N] [--batches 1,32]}: the host cost of structured-output masks per
 * engine step. B sequences decode under one JSON schema, each choosing a random allowed token (as a model with
 * random weights would); per step every sequence's constraint takes its last token and yields its next mask,
 * which is what the engine thread does before each step. Cold: a fresh grammar (every state's mask computed
 * on first use); warm: the same walk again with the grammar's cache filled.
 */
public final class MaskBenchCommand {

    static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":24},"
            + "\"age\":{\"type\":\"integer\"},\"email\":{\"type\":\"string\",\"maxLength\":40},\"tags\":{\"type\":\"array\","
            + "\"items\":{\"enum\":[\"a\",\"b\",\"c\"]},\"maxItems\":4},\"score\":{\"type\":\"number\"},\"active\":"
            + "{\"type\":\"boolean\"}},\"required\":[\"name\",\"age\",\"email\",\"tags\",\"score\",\"active\"]}";

    private MaskBenchCommand() {
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        Path dir = null;
        int steps = 64;
        int[] batches = {1, 32};
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--tokenizer" -> dir = Path.of(args[i + 1]);
                case "--steps" -> steps = Integer.parseInt(args[i + 1]);
                case "--batches" -> batches = java.util.Arrays.stream(args[i + 1].split(",")).mapToInt(Integer::parseInt)
                        .toArray();
                default -> {
                    err.println("unknown option " + args[i]);
                    return 2;
                }
            }
        }
        if (dir == null) {
            err.println("usage: maskbench --tokenizer DIR [--steps N] [--batches 1,32]");
            return 2;
        }
        try (Tokenizer tokenizer = Tokenizer.load(dir.resolve("tokenizer.json"), dir.resolve("tokenizer_config.json"))) {
            long t0 = System.nanoTime();
            byte[][] bytes = new byte[tokenizer.vocabSize()][];
            for (int id = 0; id < bytes.length; id++) {
                bytes[id] = tokenizer.isSpecial(id) ? null : tokenizer.bytesOf(id);
            }
            Vocabulary vocabulary = new Vocabulary(bytes, tokenizer.eosTokenIds());
            out.printf("vocabulary: %d tokens, trie built in %.0f ms (once per tokenizer)%n", bytes.length,
                    (System.nanoTime() - t0) / 1e6);
            for (int batch : batches) {
                Grammars grammars = new Grammars(vocabulary);
                for (String pass : List.of("cold", "warm")) {
                    double[] cpuMs = new double[steps];
                    double[] stepMs = walk(grammars, batch, steps, cpuMs);
                    out.printf("batch %d, %s: mask + advance per step: mean %.3f ms, median %.3f ms, max %.3f ms"
                            + " (%d steps); this thread's CPU: mean %.3f ms, max %.3f ms%n", batch, pass, mean(stepMs),
                            median(stepMs), max(stepMs), stepMs.length, mean(cpuMs), max(cpuMs));
                }
            }
        }
        return 0;
    }

    /**
     * Per step: accept the last token and compute the next mask for every sequence of the batch. Wall time, and
     * in {@code cpuMs} the thread's CPU time (what the work costs when the machine is shared: the wall time also
     * counts the time other processes held the cores; NaN where the JVM cannot tell).
     */
    private static double[] walk(Grammars grammars, int batch, int steps, double[] cpuMs) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        boolean cpu = threads.isCurrentThreadCpuTimeSupported();
        Grammar grammar = grammars.schema(JsonMapper.builder().build().readTree(SCHEMA));
        List<GrammarConstraint> sequences = new ArrayList<>();
        List<Random> randoms = new ArrayList<>();
        for (int s = 0; s < batch; s++) {
            sequences.add(new GrammarConstraint(grammar, GrammarConstraint.Start.GRAMMAR, -1, -1, 0));
            randoms.add(new Random(s));
        }
        int[] last = new int[batch];
        java.util.Arrays.fill(last, -1);
        double[] stepMs = new double[steps];
        for (int step = 0; step < steps; step++) {
            long start = System.nanoTime();
            long cpuStart = cpu ? threads.getCurrentThreadCpuTime() : 0;
            long[][] masks = new long[batch][];
            for (int s = 0; s < batch; s++) {
                if (last[s] >= 0) {
                    sequences.get(s).accept(last[s]);
                }
                masks[s] = sequences.get(s).allowed();
            }
            stepMs[step] = (System.nanoTime() - start) / 1e6;
            cpuMs[step] = cpu ? (threads.getCurrentThreadCpuTime() - cpuStart) / 1e6 : Double.NaN;
            for (int s = 0; s < batch; s++) {
                last[s] = pick(masks[s], randoms.get(s));
            }
        }
        return stepMs;
    }

    /**
     * A random allowed token: the k-th set bit of the mask, k uniform (the same choice as picking from a list of
     * the allowed ids, without boxing ~150k of them per sequence and step, whose garbage made the timed steps pay
     * for collections that the engine does not cause). A mask sets no bit at or above the vocabulary's size (the
     * grammar and the vocabulary only set ids below it).
     */
    static int pick(long[] mask, Random random) {
        int allowed = 0;
        for (long word : mask) {
            allowed += Long.bitCount(word);
        }
        int k = random.nextInt(allowed);
        for (int w = 0; ; w++) {
            long bits = mask[w];
            int count = Long.bitCount(bits);
            if (k < count) {
                for (int i = 0; i < k; i++) {
                    bits &= bits - 1;
                }
                return (w << 6) + Long.numberOfTrailingZeros(bits);
            }
            k -= count;
        }
    }

    private static double mean(double[] v) {
        return java.util.Arrays.stream(v).average().orElse(0);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double max(double[] v) {
        return java.util.Arrays.stream(v).max().orElse(0);
    }
}
