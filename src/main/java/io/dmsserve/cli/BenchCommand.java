package io.dmsserve.cli;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.CheckpointException;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.StepRequest;
import io.dmsserve.engine.Tensor;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.sampling.Greedy;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * {@code java -jar dms-serve.jar bench --model DIR}: prefill and decode throughput of the CPU engine,
 * next to two rooflines measured on the same machine: the time to stream every weight once (decode at
 * batch 1 cannot beat it) and a fused multiply-add loop in cache (prefill cannot beat it).
 */
public final class BenchCommand {

    private BenchCommand() {
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        String model = null;
        int promptTokens = 128;
        int decodeTokens = 32;
        int batch = 1;
        int threads = Runtime.getRuntime().availableProcessors();
        String policyName = "auto";
        try {
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                String value = i + 1 < args.length ? args[++i] : null;
                if (value == null) {
                    throw new IllegalArgumentException(flag + " needs a value");
                }
                switch (flag) {
                    case "--model" -> model = value;
                    case "--prompt-tokens" -> promptTokens = Integer.parseInt(value);
                    case "--decode-tokens" -> decodeTokens = Integer.parseInt(value);
                    case "--batch" -> batch = Integer.parseInt(value);
                    case "--threads" -> threads = Integer.parseInt(value);
                    case "--policy" -> policyName = value;
                    default -> throw new IllegalArgumentException("unknown option '" + flag + "'");
                }
            }
            if (model == null || promptTokens < 1 || decodeTokens < 1 || batch < 1 || threads < 1) {
                throw new IllegalArgumentException("usage: bench --model DIR [--prompt-tokens N] [--decode-tokens N]"
                        + " [--batch N] [--threads N] [--policy auto|dms|none]");
            }
        } catch (NumberFormatException e) {
            err.println("bench: " + e.getMessage());
            return 2;
        } catch (IllegalArgumentException e) {
            err.println("bench: " + e.getMessage());
            return 2;
        }
        try (Checkpoint checkpoint = Checkpoint.open(java.nio.file.Path.of(model))) {
            ModelConfig config = checkpoint.config();
            EvictionPolicy policy = EvictionPolicies.create(policyName, 0f, config);
            long kvBytes = 2L * config.numLayers() * config.numKvHeads() * config.headDim() * Float.BYTES
                    * (promptTokens + decodeTokens + 64L) * batch * 2;
            try (CpuBackend backend = new CpuBackend(checkpoint, 16, kvBytes, threads)) {
                // Warm-up so the JIT has compiled the hot loops before timing.
                measure(backend, policy, config, Math.min(promptTokens, 16), 4, 1, new Random(1));
                double[] timing = measure(backend, policy, config, promptTokens, decodeTokens, batch, new Random(2));
                long weightBytes = weightBytes(checkpoint);
                double streamSeconds = streamWeights(checkpoint);
                double gflops = fmaGflops(threads);
                double prefillTps = (double) promptTokens * batch / timing[0];
                double decodeTps = (double) decodeTokens * batch / timing[1];
                double flopsPerToken = 2.0 * parameters(config);
                out.printf("model            %s (%d layers, hidden %d, %.1f M parameters, %s)%n", model,
                        config.numLayers(), config.hiddenSize(), parameters(config) / 1e6,
                        config.isDms() ? "DMS" : "plain");
                out.printf("threads          %d, batch %d, policy %s%n", threads, batch, policy);
                out.printf("prefill          %d tokens/seq: %.1f tokens/s (%.2f GFLOP/s)%n", promptTokens, prefillTps,
                        prefillTps * flopsPerToken / 1e9);
                out.printf("decode           %d tokens/seq: %.2f tokens/s aggregate, %.1f ms/step%n", decodeTokens,
                        decodeTps, timing[1] * 1000 / decodeTokens);
                out.printf("roofline decode  weights %.1f MB streamed in %.1f ms: <= %.2f steps/s at batch 1%n",
                        weightBytes / 1e6, streamSeconds * 1000, 1 / streamSeconds);
                out.printf("roofline compute fp32 FMA loop in cache: %.1f GFLOP/s -> prefill <= %.1f tokens/s%n",
                        gflops, gflops * 1e9 / flopsPerToken);
            }
            return 0;
        } catch (CheckpointException | IllegalArgumentException e) {
            err.println("bench: " + e.getMessage());
            return 2;
        }
    }

    /** Returns {prefill seconds, decode seconds} for a batch of random prompts. */
    private static double[] measure(CpuBackend backend, EvictionPolicy policy, ModelConfig config, int promptTokens,
            int decodeTokens, int batch, Random random) {
        List<StepRequest> prefill = new ArrayList<>();
        for (int s = 0; s < batch; s++) {
            backend.open(s, policy);
            prefill.add(StepRequest.lastLogits(s, random.ints(promptTokens, 0, config.vocabSize()).toArray()));
        }
        long start = System.nanoTime();
        var results = backend.step(prefill);
        long prefillEnd = System.nanoTime();
        int[] next = results.stream().mapToInt(r -> Greedy.argmax(r.lastLogits())).toArray();
        for (int t = 0; t < decodeTokens; t++) {
            List<StepRequest> step = new ArrayList<>();
            for (int s = 0; s < batch; s++) {
                step.add(StepRequest.lastLogits(s, next[s]));
            }
            results = backend.step(step);
            next = results.stream().mapToInt(r -> Greedy.argmax(r.lastLogits())).toArray();
        }
        long decodeEnd = System.nanoTime();
        for (int s = 0; s < batch; s++) {
            backend.release(s);
        }
        return new double[] {(prefillEnd - start) / 1e9, (decodeEnd - prefillEnd) / 1e9};
    }

    static long parameters(ModelConfig c) {
        long attention = (long) c.hiddenSize() * (2L * c.qDim() + 2L * c.kvDim());
        long mlp = 3L * c.hiddenSize() * c.intermediateSize();
        return c.numLayers() * (attention + mlp) + (long) c.vocabSize() * c.hiddenSize();
    }

    private static long weightBytes(Checkpoint checkpoint) {
        long bytes = 0;
        for (String name : checkpoint.tensorNames()) {
            Tensor tensor = checkpoint.tensor(name);
            bytes += tensor.numel() * tensor.dtype().byteSize();
        }
        return bytes;
    }

    /** Best of three passes that read every element of every weight once (single thread per tensor row). */
    private static double streamWeights(Checkpoint checkpoint) {
        double best = Double.MAX_VALUE;
        float[] ones = new float[0];
        for (int pass = 0; pass < 3; pass++) {
            long start = System.nanoTime();
            float sink = 0;
            for (String name : checkpoint.tensorNames()) {
                Tensor tensor = checkpoint.tensor(name);
                if (ones.length < tensor.cols()) {
                    ones = new float[tensor.cols()];
                    java.util.Arrays.fill(ones, 1f);
                }
                for (int r = 0; r < tensor.rows(); r++) {
                    sink += tensor.dotRow(r, ones, 0);
                }
            }
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
            if (sink == 42.4242f) {
                System.out.print("");
            }
        }
        return best;
    }

    /** fp32 multiply-adds per second over an in-cache vector on all threads, the same loop shape as the engine. */
    private static double fmaGflops(int threads) {
        int length = 4096;
        int repeats = 20_000;
        float[][] a = new float[threads][length];
        float[] b = new float[length];
        java.util.Arrays.fill(b, 1.0001f);
        double best = 0;
        for (int pass = 0; pass < 3; pass++) {
            long start = System.nanoTime();
            java.util.stream.IntStream.range(0, threads).parallel().forEach(t -> {
                float sum = 0;
                for (int r = 0; r < repeats; r++) {
                    sum += dot(a[t], b, length);
                }
                a[t][0] = sum * 1e-30f;
            });
            double seconds = (System.nanoTime() - start) / 1e9;
            best = Math.max(best, 2.0 * length * repeats * threads / seconds / 1e9);
        }
        return best;
    }

    private static float dot(float[] a, float[] b, int length) {
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        for (int j = 0; j + 3 < length; j += 4) {
            s0 += a[j] * b[j];
            s1 += a[j + 1] * b[j + 1];
            s2 += a[j + 2] * b[j + 2];
            s3 += a[j + 3] * b[j + 3];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
