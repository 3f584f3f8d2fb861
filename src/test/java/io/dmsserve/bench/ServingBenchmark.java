package io.dmsserve.bench;

import io.dmsserve.DmsServeApplication;
import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerStatistics;
import io.dmsserve.tokenizer.ChatMessage;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.json.JsonMapper;

/**
 * Serving benchmark (issue 3; not a test, results go to docs/benchmarks.md "Serving"). Starts the server on
 * a free port with its default configuration (the embedded model on the CPU backend) unless Spring properties
 * among the arguments say otherwise (below), then for each
 * concurrency level sends that many streaming chat completions at once over real HTTP, each asking for
 * {@code --tokens} greedy tokens, and measures aggregate tokens/s, time to first token and errors. The same
 * load (same prompt tokens, same token budget) is also driven straight through the scheduler, without HTTP,
 * JSON or detokenization: that is the roofline the HTTP layer is compared with.
 *
 * <pre>
 * ./mvnw -o -q test-compile spring-boot:test-run -Dspring-boot.run.main-class=io.dmsserve.bench.ServingBenchmark \
 *     -Dspring-boot.run.arguments="--concurrency=1,8,64,256 --tokens=64 --repetitions=3"
 * </pre>
 *
 * Arguments: {@code --concurrency=1,8,64,256}, {@code --tokens=64} (new tokens per stream),
 * {@code --repetitions=3}, {@code --min-tokens=16384} (a run repeats its wave of streams until it has that many
 * tokens), {@code --prompt-tokens=0} (0: the short default prompts, a sentence each, about 40 tokens with the
 * chat template; else each prompt is padded to about that many tokens), {@code --report=target/benchmarks/serving.md},
 * {@code --jsonl=PATH} (also appends one JSON line per concurrency level there). Any argument whose name has a
 * dot is a Spring property for the server and overrides the benchmark's defaults ({@code --server.port=0
 * --logging.level.root=WARN}): the service on a checkpoint and the GPU is, for example,
 * {@code --dms.model.path=/tmp/qwen3-8b-random --dms.backend=cuda --dms.kv-cache.fraction=0.5}
 * (tools/gpu/bench-http.sh).
 *
 * The report (also written to target/benchmarks/serving.md) lists the JVM arguments: the plugin must not add
 * -XX:TieredStopAtLevel=1 (pom.xml sets optimizedLaunch=false), or the Vector API kernels run without C2.
 *
 * Client and server share the machine: the client's own work (reactor-netty, SSE parsing) is counted in the
 * HTTP figures.
 */
public final class ServingBenchmark {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private ServingBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int[] concurrency = {1, 8, 64, 256};
        int tokens = 64;
        int repetitions = 3;
        int minTokens = 16384;
        int promptTokens = 0;
        Path report = Path.of("target", "benchmarks", "serving.md");
        Path jsonl = null;
        // As command-line arguments: they outrank application.yml (default properties would not). One value per
        // name: Spring joins repeated command-line values with commas.
        Map<String, String> spring = new LinkedHashMap<>();
        spring.put("server.port", "0");
        spring.put("logging.level.root", "WARN");
        for (String arg : args) {
            String[] kv = arg.split("=", 2);
            if (kv.length != 2 || !kv[0].startsWith("--")) {
                throw new IllegalArgumentException("arguments are --name=value, got " + arg);
            }
            if (kv[0].contains(".")) {
                spring.put(kv[0].substring(2), kv[1]);
                continue;
            }
            switch (kv[0]) {
                case "--concurrency" -> concurrency = Arrays.stream(kv[1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--tokens" -> tokens = Integer.parseInt(kv[1]);
                case "--repetitions" -> repetitions = Integer.parseInt(kv[1]);
                case "--min-tokens" -> minTokens = Integer.parseInt(kv[1]);
                case "--prompt-tokens" -> promptTokens = Integer.parseInt(kv[1]);
                case "--report" -> report = Path.of(kv[1]);
                case "--jsonl" -> jsonl = Path.of(kv[1]);
                default -> throw new IllegalArgumentException("unknown argument " + arg
                        + " (Spring properties have a dot in their name, e.g. --dms.backend=cuda)");
            }
        }

        ConfigurableApplicationContext context = new SpringApplicationBuilder(DmsServeApplication.class)
                .run(spring.entrySet().stream().map(e -> "--" + e.getKey() + "=" + e.getValue()).toArray(String[]::new));
        int exitCode = 0;
        try {
            int port = ((WebServerApplicationContext) context).getWebServer().getPort();
            ServingModel model = context.getBean(ServingModel.class);
            Scheduler scheduler = context.getBean(Scheduler.class);
            exitCode = run(model, scheduler, port, concurrency, tokens, repetitions, minTokens, promptTokens, report,
                    jsonl);
        } finally {
            context.close();
        }
        System.exit(exitCode);
    }

    private static int run(ServingModel model, Scheduler scheduler, int port, int[] concurrency, int tokens,
            int repetitions, int minTokens, int promptTokens, Path report, Path jsonl) throws IOException {
        double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        if (jsonl != null) {
            Files.createDirectories(jsonl.toAbsolutePath().getParent());  // once; each level appends a line
        }
        HttpLoad http = new HttpLoad(port, model.id());
        DirectLoad direct = new DirectLoad(scheduler, model.eosTokenIds());
        int maxLevel = Arrays.stream(concurrency).max().orElse(1);
        List<String> prompts = new ArrayList<>();
        List<int[]> promptIds = new ArrayList<>();
        double perWord = tokensPerFillerWord(model, promptTokens);
        for (int i = 0; i < maxLevel; i++) {
            // Distinct prompts of about the same length: every stream does its own prefill. The distinct part
            // comes first, so that no two prompts share a prefix beyond the chat template's.
            String prompt = prompt(model, i, promptTokens, perWord);
            prompts.add(prompt);
            promptIds.add(encode(model, prompt));
        }
        double meanPromptTokens = promptIds.stream().mapToInt(p -> p.length).average().orElse(0);

        // Warm-up: JIT of the engine, the server and the client; not reported.
        for (int level : new int[] {Math.min(8, maxLevel), Math.min(64, maxLevel)}) {
            direct.run(promptIds.subList(0, level), tokens);
            http.run(prompts.subList(0, level), tokens);
        }

        List<Row> rows = new ArrayList<>();
        for (int level : concurrency) {
            List<LoadResult> directRuns = new ArrayList<>();
            List<LoadResult> httpRuns = new ArrayList<>();
            int peakRunning = 0;
            int[] engineSamples = new int[3];
            // Small levels repeat their wave of streams until a run has at least minTokens tokens, so that a run
            // lasts long enough to time (process CPU time ticks in 10 ms) and the same work is behind every row.
            int waves = (int) Math.max(1, Math.ceil((double) minTokens / ((long) level * tokens)));
            for (int r = 0; r < repetitions; r++) {
                // Alternate the two so that drift (heat, GC, neighbours) hits both alike; sample both alike.
                RunSampler directSampler = RunSampler.start(scheduler);
                List<LoadResult> directWaves = new ArrayList<>();
                for (int w = 0; w < waves; w++) {
                    directWaves.add(direct.run(promptIds.subList(0, level), tokens));
                }
                directRuns.add(LoadResult.sequence(directWaves));
                directSampler.stop();
                RunSampler httpSampler = RunSampler.start(scheduler);
                List<LoadResult> httpWaves = new ArrayList<>();
                for (int w = 0; w < waves; w++) {
                    httpWaves.add(http.run(prompts.subList(0, level), tokens));
                }
                httpRuns.add(LoadResult.sequence(httpWaves));
                peakRunning = Math.max(peakRunning, httpSampler.stop());
                int[] samples = httpSampler.engineThreadSamples();
                for (int i = 0; i < 3; i++) {
                    engineSamples[i] += samples[i];
                }
            }
            Row row = new Row(level, waves, directRuns, httpRuns, (long) level * tokens * waves * repetitions, peakRunning,
                    engineSamples);
            rows.add(row);
            System.out.println(row.line());
            if (jsonl != null) {
                Files.writeString(jsonl, row.json(model, tokens, repetitions, meanPromptTokens) + "\n",
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            }
        }
        http.close();

        SchedulerStatistics stats = scheduler.statistics();
        double loadAfter = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        String markdown = markdown(model, rows, tokens, repetitions, minTokens, meanPromptTokens, stats, loadBefore,
                loadAfter);
        System.out.println();
        System.out.println(markdown);
        Files.createDirectories(report.toAbsolutePath().getParent());
        Files.writeString(report, markdown);
        System.out.println("written to " + report.toAbsolutePath());
        return rows.stream().anyMatch(r -> r.errors() > 0) ? 1 : 0;
    }

    /** Rendered tokens a filler word adds, measured once on 64 words (0 when prompts are not padded). */
    private static double tokensPerFillerWord(ServingModel model, int tokens) {
        if (tokens <= 0) {
            return 0;
        }
        String base = base(0);
        return Math.max(0.5, (encode(model, padded(base, 64)).length - encode(model, base).length) / 64.0);
    }

    private static String base(int i) {
        return "Request " + i + ": write a haiku about the sea.";
    }

    /**
     * Prompt {@code i}: the short default, or padded with filler words to about {@code tokens} rendered tokens (one
     * correction from the padded prompt's length).
     */
    private static String prompt(ServingModel model, int i, int tokens, double perWord) {
        String base = base(i);
        if (tokens <= 0) {
            return base;
        }
        int bare = encode(model, base).length;
        int words = (int) Math.max(0, Math.round((tokens - bare) / perWord));
        int got = encode(model, padded(base, words)).length;
        words = (int) Math.max(0, words + Math.round((tokens - got) / perWord));
        return padded(base, words);
    }

    private static String padded(String base, int words) {
        String[] filler = {"waves", "salt", "wind", "tide", "shore", "gulls", "foam", "deep", "blue", "night"};
        StringBuilder text = new StringBuilder(base).append(words > 0 ? " Think of:" : "");
        for (int w = 0; w < words; w++) {
            text.append(' ').append(filler[w % filler.length]);
        }
        return text.toString();
    }

    /** The prompt's tokens as the API renders them: the chat template with the generation prompt. */
    private static int[] encode(ServingModel model, String prompt) {
        String rendered = model.tokenizer().chatTemplate().render(List.of(ChatMessage.of("user", prompt)), true, Map.of());
        return model.tokenizer().encode(rendered);
    }

    /** One concurrency level: the repetitions of both loads. */
    record Row(int concurrency, int waves, List<LoadResult> directRuns, List<LoadResult> httpRuns, long expectedTokens,
            int peakRunning, int[] engineSamples) {

        /** Percent of the engine thread's runnable samples during HTTP runs: in the reactive/HTTP stack, in the listener. */
        double[] engineThreadShares() {
            double total = Math.max(1, engineSamples[0]);
            return new double[] {100.0 * engineSamples[1] / total, 100.0 * engineSamples[2] / total};
        }

        LoadResult direct() {
            return LoadResult.median(directRuns);
        }

        LoadResult http() {
            return LoadResult.median(httpRuns);
        }

        double[] directTtfts() {
            return LoadResult.pooledTtfts(directRuns);
        }

        double[] httpTtfts() {
            return LoadResult.pooledTtfts(httpRuns);
        }

        int errors() {
            return directRuns.stream().mapToInt(LoadResult::errors).sum() + httpRuns.stream().mapToInt(LoadResult::errors).sum();
        }

        long httpTokens() {
            return httpRuns.stream().mapToLong(LoadResult::tokens).sum();
        }

        /** Throughput through HTTP as a fraction of the direct loop's. */
        double throughputRatio() {
            return http().tokensPerSecond() / direct().tokensPerSecond();
        }

        /** Median CPU time per token, all threads of the process. */
        static double cpuMicrosPerToken(List<LoadResult> runs) {
            return Stats.percentile(runs.stream().mapToDouble(LoadResult::cpuMicrosPerToken).toArray(), 50);
        }

        /** Median CPU time per token of the engine loop thread. */
        static double engineCpuMicrosPerToken(List<LoadResult> runs) {
            return Stats.percentile(runs.stream().mapToDouble(LoadResult::engineCpuMicrosPerToken).toArray(), 50);
        }

        /** CPU per token through HTTP over CPU per token direct. */
        double cpuRatio() {
            return cpuMicrosPerToken(httpRuns) / cpuMicrosPerToken(directRuns);
        }

        static String range(List<LoadResult> runs) {
            double[] tps = runs.stream().mapToDouble(LoadResult::tokensPerSecond).toArray();
            return String.format(Locale.ROOT, "%.0f–%.0f", Arrays.stream(tps).min().orElse(Double.NaN),
                    Arrays.stream(tps).max().orElse(Double.NaN));
        }

        /** The row's headline figures as one JSON object (for bench.jsonl on the GPU host); null where undefined. */
        String json(ServingModel model, int tokens, int repetitions, double promptTokens) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("what", "serving");
            row.put("backend", model.backend());
            row.put("model", model.id());
            row.put("policy", String.valueOf(model.policy()));
            row.put("concurrency", concurrency);
            row.put("new_tokens", tokens);
            row.put("prompt_tokens", rounded(promptTokens, 1));
            row.put("repetitions", repetitions);
            row.put("waves", waves);
            row.put("http_tokens_per_s", rounded(http().tokensPerSecond(), 1));
            row.put("http_ttft_p50_ms", rounded(Stats.percentile(httpTtfts(), 50), 1));
            row.put("http_ttft_p99_ms", rounded(Stats.percentile(httpTtfts(), 99), 1));
            row.put("direct_tokens_per_s", rounded(direct().tokensPerSecond(), 1));
            row.put("direct_ttft_p50_ms", rounded(Stats.percentile(directTtfts(), 50), 1));
            row.put("direct_ttft_p99_ms", rounded(Stats.percentile(directTtfts(), 99), 1));
            row.put("http_over_direct", rounded(throughputRatio(), 3));
            row.put("errors", errors());
            row.put("tokens", httpTokens());
            row.put("expected_tokens", expectedTokens);
            row.put("peak_running", peakRunning);
            return JSON.writeValueAsString(row);
        }

        /** {@code value} to {@code digits} decimals, or null (JSON has no NaN). */
        private static Double rounded(double value, int digits) {
            double scale = Math.pow(10, digits);
            return Double.isFinite(value) ? Math.round(value * scale) / scale : null;
        }

        String line() {
            return String.format(Locale.ROOT,
                    "concurrency %3d: direct %6.0f tok/s [%s] TTFT p50 %7.1f p99 %7.1f ms, CPU %6.1f us/token"
                            + " | HTTP %6.0f tok/s [%s] TTFT p50 %7.1f p99 %7.1f ms, CPU %6.1f us/token"
                            + " | HTTP/direct tok/s %.2f CPU %.2f | engine thread CPU %.1f/%.1f us/token"
                            + " | cores busy %.2f/%.2f | errors %d | tokens %d/%d"
                            + " | peak running %d | waves %d | engine thread in HTTP stack %.1f%%, in listener %.1f%% of %d samples",
                    concurrency, direct().tokensPerSecond(), range(directRuns), Stats.percentile(directTtfts(), 50),
                    Stats.percentile(directTtfts(), 99), cpuMicrosPerToken(directRuns), http().tokensPerSecond(),
                    range(httpRuns), Stats.percentile(httpTtfts(), 50), Stats.percentile(httpTtfts(), 99),
                    cpuMicrosPerToken(httpRuns), throughputRatio(), cpuRatio(), engineCpuMicrosPerToken(httpRuns),
                    engineCpuMicrosPerToken(directRuns), http().coresBusy(), direct().coresBusy(),
                    errors(), httpTokens(), expectedTokens, peakRunning, waves, engineThreadShares()[0],
                    engineThreadShares()[1], engineSamples[0]);
        }
    }

    private static String markdown(ServingModel model, List<Row> rows, int tokens, int repetitions, int minTokens,
            double promptTokens, SchedulerStatistics stats, double loadBefore, double loadAfter) {
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "Run %s, model `%s` (%s) on the %s backend, eviction policy %s, prompts of %.1f tokens on"
                        + " average (chat template included), %d new tokens per stream, greedy; tokens/s is the"
                        + " median of %d runs (range in brackets), TTFT percentiles over the streams of all %d runs; a run"
                        + " repeats its wave of concurrent streams until it has at least %d tokens;"
                        + " JVM %s, %d processors.%n%n",
                Instant.now().toString(), model.id(), model.embedded() ? "embedded" : "from disk", model.backend(),
                model.policy(), promptTokens, tokens, repetitions, repetitions, minTokens, Runtime.version(),
                Runtime.getRuntime().availableProcessors()));
        md.append("| concurrent streams | tokens/s (HTTP) | TTFT p50 (ms) | TTFT p99 (ms) | errors | peak running |"
                + " tokens/s (direct) | direct TTFT p50 (ms) | direct TTFT p99 (ms) |\n");
        md.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            md.append(String.format(Locale.ROOT, "| %d | %.0f [%s] | %.1f | %.1f | %d | %d | %.0f [%s] | %.1f | %.1f |%n",
                    r.concurrency(), r.http().tokensPerSecond(), Row.range(r.httpRuns()), Stats.percentile(r.httpTtfts(), 50),
                    Stats.percentile(r.httpTtfts(), 99), r.errors(), r.peakRunning(), r.direct().tokensPerSecond(),
                    Row.range(r.directRuns()), Stats.percentile(r.directTtfts(), 50), Stats.percentile(r.directTtfts(), 99)));
        }
        md.append("\n| concurrent streams | waves per run | HTTP / direct, tokens/s | CPU per token, HTTP (µs)"
                + " | CPU per token, direct (µs) | HTTP layer CPU per token (µs) | HTTP / direct, CPU per token"
                + " | engine thread CPU per token, HTTP (µs) | engine thread CPU per token, direct (µs)"
                + " | cores busy, HTTP | cores busy, direct | engine thread samples in HTTP stack / in listener (%) |\n");
        md.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            double httpCpu = Row.cpuMicrosPerToken(r.httpRuns());
            double directCpu = Row.cpuMicrosPerToken(r.directRuns());
            md.append(String.format(Locale.ROOT, "| %d | %d | %.2f | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.2f | %.1f / %.1f |%n",
                    r.concurrency(), r.waves(), r.throughputRatio(), httpCpu, directCpu, httpCpu - directCpu, r.cpuRatio(),
                    Row.engineCpuMicrosPerToken(r.httpRuns()), Row.engineCpuMicrosPerToken(r.directRuns()),
                    r.http().coresBusy(), r.direct().coresBusy(), r.engineThreadShares()[0], r.engineThreadShares()[1]));
        }
        md.append(String.format(Locale.ROOT, "%nScheduler after the run: %d steps, %d preemptions, %d refused, %d failed,"
                        + " %d cancelled, %d completed.%n", stats.steps(), stats.preemptions(), stats.refused(), stats.failed(),
                stats.cancelled(), stats.completed()));
        md.append("JVM arguments: ").append(ManagementFactory.getRuntimeMXBean().getInputArguments()).append('\n');
        // Anything else running on the machine shows here: the 1-minute load average should stay near 2 or below.
        md.append(String.format(Locale.ROOT, "System load average (1 min): %.2f before the warm-up, %.2f after the last row.%n",
                loadBefore, loadAfter));
        return md.toString();
    }

    /**
     * Samples, every 10 ms while a load runs, the scheduler's running count (were all streams admitted at
     * once?) and the stack of the engine loop thread: the share of its samples inside the reactive/HTTP stack
     * (Reactor, Spring, Jackson, Netty frames) shows how much of the HTTP layer's work runs on that thread,
     * in series with the engine, and the share inside the API's generation listener (detokenizer, stop strings).
     */
    private static final class RunSampler {
        private static final String[] HTTP_STACK = {"reactor.", "org.springframework.", "tools.jackson.", "io.netty."};

        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicInteger peak = new AtomicInteger();
        private final AtomicInteger engineSamples = new AtomicInteger();
        private final AtomicInteger httpStackSamples = new AtomicInteger();
        private final AtomicInteger listenerSamples = new AtomicInteger();
        private final Thread thread;

        private RunSampler(Scheduler scheduler) {
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            long engineId = -1;
            for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
                if (info != null && info.getThreadName().equals(LoadResult.ENGINE_THREAD)) {
                    engineId = info.getThreadId();
                }
            }
            long engine = engineId;
            thread = new Thread(() -> {
                while (!stop.get()) {
                    peak.accumulateAndGet(scheduler.statistics().running(), Math::max);
                    ThreadInfo info = engine < 0 ? null : threads.getThreadInfo(engine, 64);
                    if (info != null && info.getThreadState() == Thread.State.RUNNABLE) {
                        engineSamples.incrementAndGet();
                        boolean http = false;
                        boolean listener = false;
                        for (StackTraceElement frame : info.getStackTrace()) {
                            String cls = frame.getClassName();
                            for (String prefix : HTTP_STACK) {
                                http |= cls.startsWith(prefix);
                            }
                            listener |= cls.startsWith("io.dmsserve.api.");
                        }
                        if (http) {
                            httpStackSamples.incrementAndGet();
                        } else if (listener) {
                            listenerSamples.incrementAndGet();
                        }
                    }
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "bench-run-sampler");
            thread.setDaemon(true);
        }

        static RunSampler start(Scheduler scheduler) {
            RunSampler sampler = new RunSampler(scheduler);
            sampler.thread.start();
            return sampler;
        }

        int stop() {
            stop.set(true);
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return peak.get();
        }

        /** Runnable samples of the engine thread: total, in the reactive/HTTP stack, in the API listener only. */
        int[] engineThreadSamples() {
            return new int[] {engineSamples.get(), httpStackSamples.get(), listenerSamples.get()};
        }
    }
}
