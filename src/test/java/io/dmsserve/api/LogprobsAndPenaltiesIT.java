package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.dmsserve.config.ServingModel;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.scheduler.StepExecutor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * Logprobs, logit bias and the penalties over HTTP, checked against an independent oracle: the raw logits of
 * the CPU reference backend (its own instance, fed the prompt and the answer in one prefill), to which this
 * test applies bias and penalties by hand and takes the log-softmax in double.
 */
@ApiServer
class LogprobsAndPenaltiesIT {

    private static final Path MODEL = Path.of("src/main/resources/models/tiny-qwen3-dms");
    private static final AtomicLong IDS = new AtomicLong(1L << 50);
    private static Checkpoint checkpoint;
    private static StepExecutor reference;

    @LocalServerPort
    int port;
    @Autowired
    ServingModel model;

    Http http;

    @BeforeAll
    static void openReference() {
        checkpoint = Checkpoint.open(MODEL);
        reference = StepExecutor.allocate(new CpuBackend(checkpoint, 1), 16, 16L << 20, 2);
    }

    @AfterAll
    static void closeReference() {
        reference.close();
        checkpoint.close();
    }

    @BeforeEach
    void setUp() {
        http = new Http(port);
    }

    /** Raw logits (vocab) before each of the answer's tokens: position prompt − 1 + i predicts answer[i]. */
    private float[][] rawLogits(int[] prompt, int[] answer) {
        int[] all = Arrays.copyOf(prompt, prompt.length + answer.length);
        System.arraycopy(answer, 0, all, prompt.length, answer.length);
        long id = IDS.incrementAndGet();
        reference.open(id, model.policy());
        try {
            float[][] logits = reference.run(List.of(StepExecutor.Work.greedy(id, all, false, LogitsRequest.ALL)))
                    .get(0).logits();
            return Arrays.copyOfRange(logits, prompt.length - 1, prompt.length - 1 + answer.length);
        } finally {
            reference.release(id);
        }
    }

    private record Hand(Map<Integer, Double> bias, double repetition, double presence, double frequency,
            double temperature) {
    }

    /** Bias, repetition penalty over prompt and output so far, frequency and presence over the output, by hand. */
    private static double[] processed(float[] raw, Hand hand, int[] prompt, int[] answerSoFar) {
        double[] x = new double[raw.length];
        for (int t = 0; t < raw.length; t++) {
            x[t] = raw[t] + hand.bias().getOrDefault(t, 0.0);
        }
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        Arrays.stream(prompt).forEach(seen::add);
        Map<Integer, Integer> counts = new HashMap<>();
        for (int t : answerSoFar) {
            seen.add(t);
            counts.merge(t, 1, Integer::sum);
        }
        for (int t : seen) {
            x[t] = x[t] > 0 ? x[t] / hand.repetition() : x[t] * hand.repetition();
        }
        counts.forEach((t, c) -> x[t] -= hand.frequency() * c + hand.presence());
        return x;
    }

    private static double[] logSoftmax(double[] x, double temperature) {
        double max = Arrays.stream(x).map(v -> v / temperature).max().orElseThrow();
        double sum = Arrays.stream(x).map(v -> Math.exp(v / temperature - max)).sum();
        double logZ = max + Math.log(sum);
        return Arrays.stream(x).map(v -> v / temperature - logZ).toArray();
    }

    private int[] ids(JsonNode content) {
        List<Integer> ids = new ArrayList<>();
        for (JsonNode entry : content) {
            byte[] bytes = new byte[entry.get("bytes").size()];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) entry.get("bytes").get(i).asInt();
            }
            ids.add(tokenOf(bytes));
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The vocabulary id whose bytes these are (the tiny vocabulary has no two tokens with the same bytes). */
    private int tokenOf(byte[] bytes) {
        for (int id = 0; id < model.tokenizer().vocabSize(); id++) {
            if (Arrays.equals(model.tokenizer().bytesOf(id), bytes)) {
                return id;
            }
        }
        throw new AssertionError("no token has the bytes " + Arrays.toString(bytes));
    }

    private void assertAgainstReference(JsonNode content, int[] prompt, Hand hand, boolean greedy) {
        int[] answer = ids(content);
        assertThat(answer).as("tokens with logprobs").isNotEmpty();
        float[][] raw = rawLogits(prompt, answer);
        for (int i = 0; i < answer.length; i++) {
            double[] x = processed(raw[i], hand, prompt, Arrays.copyOf(answer, i));
            double[] logprobs = logSoftmax(x, greedy ? 1 : hand.temperature());
            JsonNode entry = content.get(i);
            String where = "token " + i + " " + entry;
            assertThat(entry.get("logprob").asDouble()).as(where).isCloseTo(logprobs[answer[i]], within(2e-3));
            if (greedy) {
                int argmax = 0;
                for (int t = 1; t < x.length; t++) {
                    if (x[t] > x[argmax]) {
                        argmax = t;
                    }
                }
                assertThat(answer[i]).as("greedy picks the argmax of the hand-processed logits; " + where)
                        .isEqualTo(argmax);
            }
            JsonNode top = entry.get("top_logprobs");
            assertThat(top.size()).as(where).isEqualTo(5);
            Integer[] order = new Integer[x.length];
            for (int t = 0; t < order.length; t++) {
                order[t] = t;
            }
            Arrays.sort(order, (a, b) -> logprobs[a] != logprobs[b] ? Double.compare(logprobs[b], logprobs[a]) : a - b);
            for (int k = 0; k < 5; k++) {
                assertThat(top.get(k).get("logprob").asDouble()).as("top %d; %s", k, where)
                        .isCloseTo(logprobs[order[k]], within(2e-3));
            }
            assertThat(top.get(0).get("logprob").asDouble()).as(where)
                    .isGreaterThanOrEqualTo(entry.get("logprob").asDouble() - 1e-6);
        }
    }

    private int[] chatPrompt(String user) {
        return new Engine(model, null).chatPrompt(user, Map.of());
    }

    @Test
    void greedyLogprobsAreTheReferenceLogSoftmax() {
        String user = "Name three rivers.";
        Http.Reply reply = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + user
                + "\"}],\"temperature\":0,\"max_tokens\":12,\"logprobs\":true,\"top_logprobs\":5}");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        JsonNode logprobs = reply.json().get("choices").get(0).get("logprobs");
        assertThat(logprobs.get("refusal").isNull()).isTrue();
        assertAgainstReference(logprobs.get("content"), chatPrompt(user), new Hand(Map.of(), 1, 0, 0, 1), true);
    }

    @Test
    void biasAndPenaltiesAreAppliedAsHandComputed() {
        String user = "Repeat after me: the sea, the sea, the sea.";
        int[] prompt = chatPrompt(user);
        // Bias towards a token the prompt holds (so the repetition penalty touches it) and against another.
        int favoured = prompt[prompt.length - 5];
        int shunned = prompt[prompt.length - 6] == favoured ? prompt[2] : prompt[prompt.length - 6];
        Hand hand = new Hand(Map.of(favoured, 3.5, shunned, -40.0), 1.3, 0.4, 0.9, 1);
        Http.Reply reply = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + user
                + "\"}],\"temperature\":0,\"max_tokens\":16,\"logprobs\":true,\"top_logprobs\":5,"
                + "\"logit_bias\":{\"" + favoured + "\":3.5,\"" + shunned + "\":-40},\"repetition_penalty\":1.3,"
                + "\"presence_penalty\":0.4,\"frequency_penalty\":0.9}");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        JsonNode content = reply.json().get("choices").get(0).get("logprobs").get("content");
        assertAgainstReference(content, prompt, hand, true);
        assertThat(ids(content)).as("a bias of -40 keeps a token out").doesNotContain(shunned);
    }

    @Test
    void sampledLogprobsComeFromTheTemperatureScaledDistributionAndASeedRepeats() {
        String user = "Tell me a story.";
        String request = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + user + "\"}],\"temperature\":0.7,"
                + "\"seed\":99,\"min_p\":0.05,\"frequency_penalty\":0.5,\"max_tokens\":14,\"logprobs\":true,"
                + "\"top_logprobs\":5}";
        JsonNode first = http.post("/v1/chat/completions", request).json();
        JsonNode again = http.post("/v1/chat/completions", request).json();
        JsonNode content = first.get("choices").get(0).get("logprobs").get("content");
        assertThat(again.get("choices").get(0).get("message").get("content").asString())
                .as("same seed, same tokens").isEqualTo(first.get("choices").get(0).get("message").get("content").asString());
        assertThat(ids(again.get("choices").get(0).get("logprobs").get("content"))).isEqualTo(ids(content));
        assertAgainstReference(content, chatPrompt(user), new Hand(Map.of(), 1, 0, 0.5, 0.7), false);
    }

    @Test
    void streamedLogprobsAreTheWholeOnesAndCompletionsHaveTheLegacyShape() {
        String body = "\"temperature\":0,\"max_tokens\":10";
        JsonNode whole = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                + body + ",\"logprobs\":true,\"top_logprobs\":3}").json();
        List<JsonNode> chunks = Http.sseJson(http.post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]," + body
                        + ",\"logprobs\":true,\"top_logprobs\":3,\"stream\":true}").body());
        List<JsonNode> streamed = new ArrayList<>();
        for (JsonNode chunk : chunks) {
            for (JsonNode choice : chunk.path("choices")) {
                if (choice.get("logprobs") != null && !choice.get("logprobs").isNull()) {
                    choice.get("logprobs").get("content").forEach(streamed::add);
                }
            }
        }
        List<JsonNode> expected = new ArrayList<>();
        whole.get("choices").get(0).get("logprobs").get("content").forEach(expected::add);
        assertThat(streamed).isEqualTo(expected);

        JsonNode completion = http.post("/v1/completions", "{\"prompt\":\"Once upon a time\"," + body
                + ",\"logprobs\":2}").json();
        JsonNode choice = completion.get("choices").get(0);
        JsonNode legacy = choice.get("logprobs");
        assertThat(legacy.get("tokens").size()).isEqualTo(completion.get("usage").get("completion_tokens").asInt()
                - ("stop".equals(choice.get("finish_reason").asString()) ? 1 : 0));
        assertThat(legacy.get("token_logprobs").size()).isEqualTo(legacy.get("tokens").size());
        assertThat(legacy.get("text_offset").get(0).asInt()).isZero();
        StringBuilder text = new StringBuilder();
        legacy.get("tokens").forEach(t -> text.append(t.asString()));
        assertThat(text.toString()).as("tokens concatenated (ASCII prompt)").startsWith(choice.get("text").asString()
                .substring(0, Math.min(3, choice.get("text").asString().length())));
        for (JsonNode top : legacy.get("top_logprobs")) {
            assertThat(top.size()).isBetween(1, 2);
        }
    }

    @Test
    void badValuesAre400sNamingTheField() {
        String messages = "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],";
        String[][] cases = {
            {"\"top_logprobs\":3}", "top_logprobs"},
            {"\"logprobs\":true,\"top_logprobs\":21}", "top_logprobs"},
            {"\"logit_bias\":{\"abc\":1}}", "logit_bias"},
            {"\"logit_bias\":{\"5\":101}}", "logit_bias.5"},
            {"\"logit_bias\":{\"99999999\":1}}", "logit_bias"},
            {"\"presence_penalty\":2.5}", "presence_penalty"},
            {"\"frequency_penalty\":-3}", "frequency_penalty"},
            {"\"repetition_penalty\":0}", "repetition_penalty"},
            {"\"min_p\":1.5}", "min_p"},
            {"\"logprobs\":\"yes\"}", "logprobs"},
        };
        for (String[] c : cases) {
            Http.Reply reply = http.post("/v1/chat/completions", messages + c[0]);
            assertThat(reply.status()).as(c[0] + " → " + reply.body()).isEqualTo(400);
            assertThat(reply.json().get("error").get("param").asString()).as(reply.body()).isEqualTo(c[1]);
        }
        Http.Reply reply = http.post("/v1/completions", "{\"prompt\":\"x\",\"logprobs\":21}");
        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.json().get("error").get("param").asString()).isEqualTo("logprobs");
    }
}
