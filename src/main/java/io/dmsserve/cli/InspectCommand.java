package io.dmsserve.cli;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.CheckpointException;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.scheduler.GreedyTrace;
import io.dmsserve.scheduler.StepExecutor;
import io.dmsserve.tokenizer.ChatMessage;
import io.dmsserve.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code java -jar dms-serve.jar inspect ...}: shows what DMS does on a prompt, without starting the
 * server. The JSON form is meant for independent checks of the engine.
 */
public final class InspectCommand {

    /** KV memory for one inspected sequence; the cache is sized for the run, not for serving. */
    private static final long CACHE_BYTES = 512L << 20;
    private static final int PAGE_SIZE = 16;

    private InspectCommand() {
    }

    /** Runs the command; returns the process exit code (0 ok, 2 usage or input error). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        InspectArguments arguments;
        try {
            arguments = InspectArguments.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("inspect: " + e.getMessage());
            err.println(InspectArguments.USAGE);
            return 2;
        }
        try (Checkpoint checkpoint = Checkpoint.open(arguments.model())) {
            EvictionPolicy policy = EvictionPolicies.create(arguments.policy(), arguments.threshold(),
                    checkpoint.config().dms());
            int[] prompt = arguments.tokenIds() != null ? arguments.tokenIds() : encode(checkpoint, arguments);
            CpuBackend cpu = new CpuBackend(checkpoint, arguments.threads());
            long bytes = Math.min(CACHE_BYTES, cacheBytesFor(checkpoint, cpu, prompt.length + arguments.maxNewTokens()));
            try (StepExecutor backend = StepExecutor.allocate(cpu, PAGE_SIZE, bytes, 1)) {
                GreedyTrace trace = GreedyTrace.run(backend, policy, prompt, arguments.maxNewTokens(),
                        arguments.prefillChunk(), false);
                Map<String, Object> report = report(checkpoint, policy, prompt, trace);
                if (arguments.json()) {
                    out.println(JsonMapper.builder().build().writeValueAsString(report));
                } else {
                    printHuman(report, out);
                }
            }
            return 0;
        } catch (CheckpointException | IllegalArgumentException e) {
            err.println("inspect: " + e.getMessage());
            return 2;
        }
    }

    /** Every token kept, plus a partly filled page per (layer, head). */
    private static long cacheBytesFor(Checkpoint checkpoint, CpuBackend backend, int tokens) {
        var config = checkpoint.config();
        long pagesPerHead = (tokens + PAGE_SIZE - 1) / PAGE_SIZE + 1;
        return backend.kvBytesPerPage(PAGE_SIZE) * config.numLayers() * config.numKvHeads() * pagesPerHead;
    }

    private static int[] encode(Checkpoint checkpoint, InspectArguments arguments) {
        try (Tokenizer tokenizer = Tokenizer.load(checkpoint.tokenizerJson(), checkpoint.tokenizerConfigJson())) {
            String text = arguments.text();
            if (arguments.chat()) {
                text = tokenizer.chatTemplate().render(List.of(ChatMessage.of("user", text)), true,
                        Map.of("enable_thinking", arguments.enableThinking()));
            }
            int[] ids = tokenizer.encode(text);
            if (ids.length == 0) {
                throw new IllegalArgumentException("the text encodes to no token");
            }
            return ids;
        }
    }

    private static Map<String, Object> report(Checkpoint checkpoint, EvictionPolicy policy, int[] prompt,
            GreedyTrace trace) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("model", checkpoint.directory().toString());
        report.put("policy", policy.name());
        if (policy.evicts()) {
            report.put("threshold", EvictionPolicies.threshold(policy));
            report.put("window", policy.window());
        }
        report.put("prompt", prompt);
        report.put("greedy", trace.greedy());
        report.put("processed", trace.processed());
        report.put("last_logits", trace.promptLogits()[trace.promptLogits().length - 1]);
        report.put("decisions", trace.decisions());
        report.put("kv_live", trace.kvLive());
        report.put("evicted", trace.evicted());
        return report;
    }

    private static void printHuman(Map<String, Object> report, PrintStream out) {
        out.println("model      " + report.get("model"));
        out.println("policy     " + report.get("policy") + (report.containsKey("window")
                ? " (threshold " + report.get("threshold") + ", window " + report.get("window") + ")" : ""));
        out.println("prompt     " + Arrays.toString((int[]) report.get("prompt")));
        out.println("greedy     " + Arrays.toString((int[]) report.get("greedy")));
        out.println("processed  " + report.get("processed") + " tokens");
        int[][] live = (int[][]) report.get("kv_live");
        long[] evicted = (long[]) report.get("evicted");
        int[][][] decisions = (int[][][]) report.get("decisions");
        for (int l = 0; l < live.length; l++) {
            out.printf("layer %-3d  live per KV head %s, evicted %d, flagged per head %s%n", l,
                    Arrays.toString(live[l]), evicted[l],
                    Arrays.toString(Arrays.stream(decisions[l]).mapToInt(d -> d.length).toArray()));
        }
    }
}
