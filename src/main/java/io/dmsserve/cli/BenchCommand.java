package io.dmsserve.cli;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.CheckpointException;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.Tensor;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.engine.simd.FloatKernels;
import io.dmsserve.engine.simd.Kernels;
import io.dmsserve.scheduler.StepExecutor;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * {@code java -jar dms-serve.jar bench --model DIR}: prefill and decode throughput of the CPU engine,
 * next to two rooflines measured on the same machine: memory read bandwidth over the weight bytes (decode
 * at batch 1 cannot beat it) and the engine's own matrix tile kernel in cache (prefill cannot beat it).
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
            EvictionPolicy policy = EvictionPolicies.create(policyName, 0f, config.dms());
            CpuBackend cpu = new CpuBackend(checkpoint, threads);
            long kvBytes = cpu.kvBytesPerPage(16) * config.numLayers() * config.numKvHeads()
                    * ((promptTokens + decodeTokens + 64L) / 16 + 2) * batch;
            try (StepExecutor backend = StepExecutor.allocate(cpu, 16, kvBytes, batch)) {
                // Warm-up so the JIT has compiled the hot loops before timing.
                measure(backend, policy, config, Math.min(promptTokens, 16), 4, 1, new Random(1));
                double[] timing = measure(backend, policy, config, promptTokens, decodeTokens, batch, new Random(2));
                long weightBytes = weightBytes(checkpoint);
                double bandwidth = readBandwidth(threads);
                double gflops = kernelGflops(threads);
                double prefillTps = (double) promptTokens * batch / timing[0];
                double decodeTps = (double) decodeTokens * batch / timing[1];
                double flopsPerToken = 2.0 * parameters(config);
                out.printf("model            %s (%d layers, hidden %d, %.1f M parameters, %s)%n", model,
                        config.numLayers(), config.hiddenSize(), parameters(config) / 1e6,
                        config.isDms() ? "DMS" : "plain");
                out.printf("threads          %d, batch %d, policy %s, kernels %s%n", threads, batch, policy,
                        Kernels.name());
                out.printf("prefill          %d tokens/seq: %.1f tokens/s (%.2f GFLOP/s)%n", promptTokens, prefillTps,
                        prefillTps * flopsPerToken / 1e9);
                out.printf("decode           %d tokens/seq: %.2f tokens/s aggregate, %.1f ms/step%n", decodeTokens,
                        decodeTps, timing[1] * 1000 / decodeTokens);
                out.printf("roofline decode  weights %.1f MB, memory read %.1f GB/s: <= %.2f steps/s at batch 1%n",
                        weightBytes / 1e6, bandwidth / 1e9, bandwidth / weightBytes);
                out.printf("roofline compute %s tile kernel in cache: %.1f GFLOP/s -> prefill <= %.1f tokens/s%n",
                        Kernels.name(),
                        gflops, gflops * 1e9 / flopsPerToken);
            }
            return 0;
        } catch (CheckpointException | IllegalArgumentException e) {
            err.println("bench: " + e.getMessage());
            return 2;
        }
    }

    /** Returns {prefill seconds, decode seconds} for a batch of random prompts. */
    private static double[] measure(StepExecutor backend, EvictionPolicy policy, ModelConfig config,
            int promptTokens, int decodeTokens, int batch, Random random) {
        List<StepExecutor.Work> prefill = new ArrayList<>();
        for (int s = 0; s < batch; s++) {
            backend.open(s, policy);
            prefill.add(StepExecutor.Work.greedy(s, random.ints(promptTokens, 0, config.vocabSize()).toArray(), true,
                    LogitsRequest.NONE));
        }
        long start = System.nanoTime();
        StepOutput results = backend.run(prefill);
        long prefillEnd = System.nanoTime();
        for (int t = 0; t < decodeTokens; t++) {
            List<StepExecutor.Work> step = new ArrayList<>();
            for (int s = 0; s < batch; s++) {
                step.add(StepExecutor.Work.greedy(s, new int[] {results.get(s).token()}, true, LogitsRequest.NONE));
            }
            results = backend.run(step);
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

    /**
     * Memory read bandwidth in bytes/s: best of three parallel passes summing a 128 MiB array, four times
     * the last-level cache. Decode at batch 1 reads every weight once a step, so bandwidth / weight bytes bounds it.
     */
    private static double readBandwidth(int threads) {
        long[] data = new long[16 << 20];
        java.util.Arrays.fill(data, 3L);
        int block = data.length / threads;
        double best = 0;
        for (int pass = 0; pass < 3; pass++) {
            long start = System.nanoTime();
            long sum = java.util.stream.IntStream.range(0, threads).parallel().mapToLong(t -> {
                long s = 0;
                for (int i = t * block; i < (t + 1) * block; i++) {
                    s += data[i];
                }
                return s;
            }).sum();
            double seconds = (System.nanoTime() - start) / 1e9;
            if (sum != 3L * block * threads) {
                throw new IllegalStateException("bandwidth loop miscounted");
            }
            best = Math.max(best, (double) block * threads * Long.BYTES / seconds);
        }
        return best;
    }

    /**
     * fp32 FLOP/s of the engine's own matrix tile kernel on operands that stay in cache, all threads: the
     * most any prefill can reach with these kernels.
     */
    private static double kernelGflops(int threads) {
        FloatKernels kernels = Kernels.get();
        int rows = 16;
        int tokens = 4;
        int cols = 1024;
        int repeats = 20_000;
        double best = 0;
        for (int pass = 0; pass < 3; pass++) {
            long start = System.nanoTime();
            java.util.stream.IntStream.range(0, threads).parallel().forEach(t -> {
                float[] w = new float[rows * cols];
                float[] x = new float[tokens * cols];
                java.util.Arrays.fill(w, 0.5f);
                java.util.Arrays.fill(x, 0.25f);
                float[] out = new float[tokens * rows];
                for (int r = 0; r < repeats; r++) {
                    kernels.matmulBlock(w, rows, x, tokens, cols, out, 0, rows);
                }
                if (out[0] != 0.125f * cols) {
                    throw new IllegalStateException("kernel loop miscounted: " + out[0]);
                }
            });
            double seconds = (System.nanoTime() - start) / 1e9;
            best = Math.max(best, 2.0 * rows * tokens * cols * repeats * threads / seconds / 1e9);
        }
        return best;
    }
}
