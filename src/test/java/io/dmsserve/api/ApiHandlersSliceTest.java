package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;

/**
 * The API's successful answers, exactly, byte for byte: whole and streamed chat and text completions and the
 * models endpoints, from a scheduler double that generates the characters of {@value #ANSWER} one token each.
 * Ids and creation times are random and the clock's; they are checked for their form, equal across the chunks
 * of one response, and then put into the expected text.
 */
@ApiSlice
class ApiHandlersSliceTest extends ApiSliceFixture {

    private static final String ANSWER = "Hi there!";
    /** What the tiny model's (Qwen3's) chat template makes of one user message "hello", generation prompt on. */
    private static final String RENDERED_HELLO = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n";
    private static final Pattern CHAT_ID = Pattern.compile("\"id\":\"(chatcmpl-[0-9a-f]{32})\",\"object\":"
            + "\"chat\\.completion(?:\\.chunk)?\",\"created\":(\\d+),");
    private static final Pattern TEXT_ID = Pattern.compile("\"id\":\"(cmpl-[0-9a-f]{32})\",\"object\":"
            + "\"text_completion\",\"created\":(\\d+),");


    FakeScheduler fake;
    int[] answer;
    int helloPrompt;

    @BeforeEach
    void setUp() {
        fake = new FakeScheduler(scheduler);
        answer = FakeScheduler.tokens(model.tokenizer(), ANSWER);
        fake.emits(answer, FinishReason.STOP);
        helloPrompt = model.tokenizer().encode(RENDERED_HELLO).length;
    }

    private String post(String path, String body) {
        return client.post().uri(path).contentType(MediaType.APPLICATION_JSON).bodyValue(body).exchange()
                .expectStatus().isOk()
                .expectBody(String.class).returnResult().getResponseBody();
    }

    /** Checks the id and creation time of every JSON object in the body and replaces them with ID and CREATED. */
    private static String normalized(String body, Pattern idPattern) {
        long now = System.currentTimeMillis() / 1000;
        Matcher m = idPattern.matcher(body);
        String id = null;
        String created = null;
        int count = 0;
        while (m.find()) {
            count++;
            if (id == null) {
                id = m.group(1);
                created = m.group(2);
            }
            assertThat(m.group(1)).as("one id for every chunk").isEqualTo(id);
            assertThat(m.group(2)).as("one creation time for every chunk").isEqualTo(created);
        }
        assertThat(count).as("objects with an id in %s", body).isPositive();
        assertThat(Long.parseLong(created)).isBetween(now - 60, now + 1);
        return body.replace(id, "ID").replace("\"created\":" + created + ",", "\"created\":CREATED,");
    }

    @Test
    void wholeChatCompletion() {
        String body = post("/v1/chat/completions", "{\"model\":\"tiny-qwen3-dms\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hello\"}],\"temperature\":0,\"max_tokens\":20}");

        assertThat(normalized(body, CHAT_ID)).isEqualTo("{\"id\":\"ID\",\"object\":\"chat.completion\",\"created\":"
                + "CREATED,\"model\":\"tiny-qwen3-dms\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                + "\"content\":\"Hi there!\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":"
                + helloPrompt + ",\"completion_tokens\":9,\"total_tokens\":" + (helloPrompt + 9) + "}}");
        GenerationRequest request = fake.submitted.get(0);
        assertThat(request.promptTokens()).as("the rendered conversation, tokenized")
                .containsExactly(model.tokenizer().encode(RENDERED_HELLO));
        assertThat(request.maxTokens()).isEqualTo(20);
        assertThat(request.sampling()).isEqualTo(new SamplingParams(0.0, 1.0, 0, null));
        assertThat(request.stopTokenIds()).isEqualTo(model.eosTokenIds()).isNotEmpty();
    }

    @Test
    void streamedChatCompletionWithUsage() {
        String body = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
                + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}");

        StringBuilder expected = new StringBuilder(chatChunk("{\"role\":\"assistant\",\"content\":\"\"}", null, true));
        for (char c : ANSWER.toCharArray()) {
            expected.append(chatChunk("{\"content\":\"" + c + "\"}", null, true));
        }
        expected.append(chatChunk("{}", "stop", true));
        expected.append("data: {\"id\":\"ID\",\"object\":\"chat.completion.chunk\",\"created\":CREATED,\"model\":"
                + "\"tiny-qwen3-dms\",\"choices\":[],\"usage\":{\"prompt_tokens\":" + helloPrompt
                + ",\"completion_tokens\":9,\"total_tokens\":" + (helloPrompt + 9) + "}}\n\n");
        expected.append("data: [DONE]\n\n");
        assertThat(normalized(body, CHAT_ID)).isEqualTo(expected.toString());
        assertThat(fake.submitted.get(0).maxTokens()).as("no max_tokens: what the context leaves")
                .isEqualTo(FakeScheduler.CONTEXT - helloPrompt);
    }

    @Test
    void streamedChatCompletionEndsBeforeAStopStringThatSpansTokens() {
        String body = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
                + "\"stream\":true,\"stop\":[\"xyz\",\"ere\"]}");

        // "e" could start "ere", so it is held back until "r", then "e" completes the stop string.
        StringBuilder expected = new StringBuilder(chatChunk("{\"role\":\"assistant\",\"content\":\"\"}", null, false));
        for (String piece : List.of("H", "i", " ", "t", "h")) {
            expected.append(chatChunk("{\"content\":\"" + piece + "\"}", null, false));
        }
        expected.append(chatChunk("{}", "stop", false)).append("data: [DONE]\n\n");
        assertThat(normalized(body, CHAT_ID)).isEqualTo(expected.toString());
    }

    private static String chatChunk(String delta, String finishReason, boolean usageField) {
        return "data: {\"id\":\"ID\",\"object\":\"chat.completion.chunk\",\"created\":CREATED,\"model\":"
                + "\"tiny-qwen3-dms\",\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"logprobs\":null,"
                + "\"finish_reason\":" + (finishReason == null ? "null" : "\"" + finishReason + "\"") + "}]"
                + (usageField ? ",\"usage\":null" : "") + "}\n\n";
    }

    @Test
    void twoChoicesWithASeedGetSeedAndSeedPlusOne() {
        String body = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],"
                + "\"n\":2,\"seed\":41,\"temperature\":0.5,\"top_p\":0.9,\"top_k\":7,\"max_completion_tokens\":4}");

        assertThat(normalized(body, CHAT_ID)).isEqualTo("{\"id\":\"ID\",\"object\":\"chat.completion\",\"created\":"
                + "CREATED,\"model\":\"tiny-qwen3-dms\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                + "\"content\":\"Hi t\"},\"logprobs\":null,\"finish_reason\":\"length\"},{\"index\":1,\"message\":"
                + "{\"role\":\"assistant\",\"content\":\"Hi t\"},\"logprobs\":null,\"finish_reason\":\"length\"}],"
                + "\"usage\":{\"prompt_tokens\":" + helloPrompt + ",\"completion_tokens\":8,\"total_tokens\":"
                + (helloPrompt + 8) + "}}");
        List<SamplingParams> sampling = new ArrayList<>();
        fake.submitted.forEach(r -> sampling.add(r.sampling()));
        assertThat(sampling).containsExactly(new SamplingParams(0.5, 0.9, 7, 41L), new SamplingParams(0.5, 0.9, 7, 42L));
    }

    @Test
    void wholeTextCompletion() {
        String body = post("/v1/completions", "{\"prompt\":\"Once\",\"max_tokens\":5,\"temperature\":0}");

        int prompt = model.tokenizer().encode("Once").length;
        assertThat(normalized(body, TEXT_ID)).isEqualTo("{\"id\":\"ID\",\"object\":\"text_completion\",\"created\":"
                + "CREATED,\"model\":\"tiny-qwen3-dms\",\"choices\":[{\"index\":0,\"text\":\"Hi th\",\"logprobs\":null,"
                + "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":" + prompt + ",\"completion_tokens\":5,"
                + "\"total_tokens\":" + (prompt + 5) + "}}");
        assertThat(fake.submitted.get(0).promptTokens()).as("the prompt as is, no template")
                .containsExactly(model.tokenizer().encode("Once"));
    }

    @Test
    void streamedTextCompletion() {
        String body = post("/v1/completions", "{\"prompt\":[\"Once\"],\"max_tokens\":3,\"stream\":true}");

        StringBuilder expected = new StringBuilder();
        for (String piece : List.of("H", "i", " ")) {
            expected.append(textChunk(piece, null));
        }
        expected.append(textChunk("", "length")).append("data: [DONE]\n\n");
        assertThat(normalized(body, TEXT_ID)).isEqualTo(expected.toString());
    }

    private static String textChunk(String text, String finishReason) {
        return "data: {\"id\":\"ID\",\"object\":\"text_completion\",\"created\":CREATED,\"model\":\"tiny-qwen3-dms\","
                + "\"choices\":[{\"index\":0,\"text\":\"" + text + "\",\"logprobs\":null,\"finish_reason\":"
                + (finishReason == null ? "null" : "\"" + finishReason + "\"") + "}]}\n\n";
    }

    @Test
    void streamsAreServerSentEventsThatCachesAndProxiesLeaveAlone() {
        client.post().uri("/v1/completions").bodyValue("{\"prompt\":\"x\",\"max_tokens\":1,\"stream\":true}")
                .exchange()
                .expectStatus().isOk()
                .expectHeader().contentType(MediaType.TEXT_EVENT_STREAM)
                .expectHeader().valueEquals("Cache-Control", "no-cache")
                .expectHeader().valueEquals("X-Accel-Buffering", "no");
    }

    @Test
    void modelsListAndCard() {
        String list = client.get().uri("/v1/models").exchange().expectStatus().isOk()
                .expectHeader().contentType(MediaType.APPLICATION_JSON)
                .expectBody(String.class).returnResult().getResponseBody();
        Matcher created = Pattern.compile("\"created\":(\\d+),").matcher(list);
        assertThat(created.find()).isTrue();
        long now = System.currentTimeMillis() / 1000;
        assertThat(Long.parseLong(created.group(1))).isBetween(now - 600, now);
        String card = "{\"id\":\"tiny-qwen3-dms\",\"object\":\"model\",\"created\":" + created.group(1)
                + ",\"owned_by\":\"dms-serve\"}";
        assertThat(list).isEqualTo("{\"object\":\"list\",\"data\":[" + card + "]}");
        client.get().uri("/v1/models/tiny-qwen3-dms").exchange().expectStatus().isOk()
                .expectBody(String.class).isEqualTo(card);
    }
}
