package io.dmsserve.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.dms.DmsRules;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.dms.EvictionSettings;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.sampling.SamplingParams;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the admin dashboard asks of the scheduler: the retention trace (checked against the independent
 * reference's golden decisions, live counts and greedy tokens), limits changed at run time, a threshold moved
 * under running sequences, and the requests view.
 */
class AdminHooksTest {

    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-qwen3-dms");
    private static Checkpoint checkpoint;
    private static JsonNode cases;

    @BeforeAll
    static void load() {
        checkpoint = Checkpoint.open(MODEL);
        cases = JsonMapper.builder().build().readTree(MODEL.resolve("golden.json").toFile()).get("cases");
    }

    @AfterAll
    static void close() {
        checkpoint.close();
    }

    private static StepExecutor cpu(int rows) {
        CpuBackend backend = new CpuBackend(checkpoint, 2);
        return StepExecutor.allocate(backend, 4, 16L << 20, rows);
    }

    private static int[] ints(JsonNode node) {
        int[] out = new int[node.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = node.get(i).asInt();
        }
        return out;
    }

    @Test
    void theRetentionTraceIsWhatTheReferenceDecidedAndWhatTheBookkeepingHolds() throws Exception {
        int checked = 0;
        for (JsonNode c : cases) {
            if (!c.get("policy").asString().equals("dms")) {
                continue;
            }
            EvictionPolicy policy = EvictionPolicies.create("dms", (float) c.get("threshold").asDouble(),
                    checkpoint.config().dms());
            try (StepExecutor executor = cpu(4);
                    Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(4, 4, 64, Duration.ofMinutes(1)),
                            policy).start()) {
                int[] prompt = ints(c.get("prompt_ids"));
                int maxNew = c.get("max_new_tokens").asInt();
                RetentionTrace trace = scheduler.retention(prompt, maxNew).get(60, TimeUnit.SECONDS);
                String name = c.get("name").asString();
                assertThat(trace.generated()).as(name).containsExactly(ints(c.get("greedy")));
                int total = prompt.length + maxNew - 1;
                int window = policy.window();
                for (int l = 0; l < trace.held().length; l++) {
                    for (int h = 0; h < trace.held()[l].length; h++) {
                        List<Integer> flagged = new ArrayList<>();
                        int held = 0;
                        for (int k = 0; k < total; k++) {
                            if (trace.flagged()[l][h][k]) {
                                flagged.add(k);
                            }
                            held += trace.held()[l][h][k] ? 1 : 0;
                            boolean gone = trace.flagged()[l][h][k] && k <= DmsRules.lastEvictable(total, window);
                            assertThat(trace.held()[l][h][k]).as("%s layer %d head %d token %d", name, l, h, k)
                                    .isEqualTo(!gone);
                            float logit = trace.decisionLogits()[l][h][k];
                            if (k < total - 1) {
                                assertThat(trace.flagged()[l][h][k]).as("the logit decides")
                                        .isEqualTo(trace.rule().flags(l, logit));
                            } else {
                                assertThat(logit).as("nothing decided about the last token yet").isNaN();
                            }
                        }
                        assertThat(flagged).as("%s decisions layer %d head %d", name, l, h)
                                .containsExactlyElementsOf(toList(c.get("decisions").get(l).get(h)));
                        assertThat(held).isEqualTo(trace.live()[l][h])
                                .isEqualTo(c.get("kv_live").get(l).get(h).asInt());
                    }
                }
                assertThat(executor.statistics().pagesInUse()).as("the trace gave its pages back").isZero();
                checked++;
            }
        }
        assertThat(checked).isGreaterThanOrEqualTo(5);
    }

    private static List<Integer> toList(JsonNode node) {
        List<Integer> out = new ArrayList<>();
        node.forEach(n -> out.add(n.asInt()));
        return out;
    }

    @Test
    void limitsMoveAtRunTimeWithinTheCachesRows() throws Exception {
        EvictionPolicy policy = EvictionPolicies.create("dms", 0f, checkpoint.config().dms());
        try (StepExecutor executor = cpu(8);
                Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(8, 8, 64, Duration.ofMinutes(1)),
                        policy).start()) {
            scheduler.limits(1, 0);
            assertThat(scheduler.maxRunning()).isEqualTo(1);
            RecordingListener first = new RecordingListener();
            scheduler.submit(new GenerationRequest(new int[] {1, 2, 3}, 200, SamplingParams.GREEDY, Set.of(), null,
                    null, first));
            assertThatThrownBy(() -> scheduler.submit(new GenerationRequest(new int[] {1}, 2, SamplingParams.GREEDY,
                    Set.of(), null, null, new RecordingListener()))).isInstanceOf(QueueFullException.class);
            first.await();
            scheduler.limits(2, 1);
            List<RecordingListener> three = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                RecordingListener l = new RecordingListener();
                scheduler.submit(new GenerationRequest(new int[] {1, 2}, 3, SamplingParams.GREEDY, Set.of(), null,
                        null, l));
                three.add(l);
            }
            for (RecordingListener l : three) {
                l.await();
            }
            assertThatThrownBy(() -> scheduler.limits(9, 0)).hasMessageContaining("between 1 and 8");
            assertThatThrownBy(() -> scheduler.limits(0, 0)).hasMessageContaining("between 1 and 8");
            assertThatThrownBy(() -> scheduler.limits(1, -1)).hasMessageContaining("must not be negative");
        }
    }

    @Test
    void aThresholdMovedUnderARunningSequenceTakesEffectAtItsNextStepAndTheViewShowsIt() throws Exception {
        EvictionPolicy policy = EvictionPolicies.create("dms", 0f, checkpoint.config().dms());
        try (StepExecutor executor = cpu(4);
                Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(4, 4, 64, Duration.ofMinutes(1)),
                        policy).start()) {
            scheduler.requests(false); // watch, so the engine publishes
            // A listener that raises the threshold beyond any logit after 20 tokens, on the engine thread: from the
            // next step on no decision may flag anything, so the evictions stop growing a window later.
            long[] evictedAtSwitch = new long[1];
            RecordingListener listener = new RecordingListener() {
                @Override
                public synchronized boolean onToken(int tokenId) {
                    if (tokens.size() == 19) {
                        EvictionPolicies.apply(policy, new EvictionSettings(true, 1e30f, null, policy.window()));
                        evictedAtSwitch[0] = evicted(executor);
                    }
                    return super.onToken(tokenId);
                }
            };
            scheduler.submit(new GenerationRequest(new int[] {5, 6, 7, 8}, 120, SamplingParams.GREEDY, Set.of(), null,
                    null, listener, "chatcmpl-test"));
            listener.await();
            long afterwards = evicted(executor);
            int layers = executor.cache().layers() * executor.cache().kvHeads();
            // Tokens flagged before the switch may still leave (at most a window of them per head); none after.
            assertThat(afterwards - evictedAtSwitch[0]).isLessThanOrEqualTo((long) (policy.window() + 1) * layers);
            assertThat(evictedAtSwitch[0]).as("the default threshold evicted before the switch").isPositive();
            RequestsView view = scheduler.requests(false);
            SequenceView ended = view.recent().get(0);
            assertThat(ended.requestId()).isEqualTo("chatcmpl-test");
            assertThat(ended.state()).isEqualTo("length");
            assertThat(ended.promptLength()).isEqualTo(4);
            assertThat(ended.generated()).isEqualTo(120);
            assertThat(ended.storedTokens()).isEqualTo((4 + 119L) * layers);
            assertThat(ended.liveTokens()).isLessThan(ended.storedTokens()).isPositive();
            assertThat(ended.promptTokens()).isNull();
            assertThat(scheduler.requests(true).recent().get(0).promptTokens()).containsExactly(5, 6, 7, 8);
            // The listener hears of the end inside the step; the engine publishes the emptied batch right after it.
            long until = System.nanoTime() + 5_000_000_000L;
            while (!scheduler.requests(false).active().isEmpty() && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            assertThat(scheduler.requests(false).active()).isEmpty();
        }
    }

    private static long evicted(StepExecutor executor) {
        long total = 0;
        for (long[] layer : executor.statistics().evictedTokens()) {
            for (long v : layer) {
                total += v;
            }
        }
        return total;
    }
}
