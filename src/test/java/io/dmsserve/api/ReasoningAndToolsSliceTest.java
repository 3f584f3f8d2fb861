package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.http.MediaType;
import tools.jackson.databind.JsonNode;

/**
 * Reasoning content and tool calls as clients see them, whole and streamed, from a scheduler double that emits
 * a scripted Qwen3 answer ({@code <think>…</think>} then a {@code <tool_call>}); and what reaches the template:
 * tools, assistant tool calls, tool results, and the server's enable_thinking default.
 */
@ApiSlice(properties = "dms.api.enable-thinking=false")
class ReasoningAndToolsSliceTest extends ApiSliceFixture {

    private static final String TOOL = "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
            + "\"Weather of a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
            + "\"required\":[\"city\"]}}}";


    FakeScheduler fake;

    @BeforeEach
    void setUp() {
        fake = new FakeScheduler(scheduler);
    }

    private int id(String token) {
        return model.tokenizer().tokenId(token).orElseThrow();
    }

    private int[] script(Object... parts) {
        List<Integer> ids = new ArrayList<>();
        for (Object part : parts) {
            if (part instanceof Integer i) {
                ids.add(i);
            } else {
                for (int t : FakeScheduler.tokens(model.tokenizer(), (String) part)) {
                    ids.add(t);
                }
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private String post(String body) {
        return client.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON).bodyValue(body)
                .exchange().expectStatus().isOk().expectBody(String.class).returnResult().getResponseBody();
    }

    private int[] thinkThenCall() {
        return script(id("<think>"), "\nhmm\n", id("</think>"), "\n\n", id("<tool_call>"),
                "\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n", id("</tool_call>"));
    }

    @Test
    void reasoningAndAToolCallInAWholeAnswer() {
        fake.emits(thinkThenCall(), FinishReason.STOP);
        JsonNode json = Http.JSON.readTree(post("{\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}],"
                + "\"tools\":[" + TOOL + "]}"));
        JsonNode choice = json.get("choices").get(0);
        JsonNode message = choice.get("message");
        assertThat(message.get("reasoning_content").asString()).isEqualTo("\nhmm\n");
        assertThat(message.get("content").isNull()).as(message.toString()).isTrue();
        JsonNode call = message.get("tool_calls").get(0);
        assertThat(call.get("id").asString()).matches("call_[A-Za-z0-9]{24}");
        assertThat(call.get("type").asString()).isEqualTo("function");
        assertThat(call.get("function").get("name").asString()).isEqualTo("get_weather");
        assertThat(Http.JSON.readTree(call.get("function").get("arguments").asString()))
                .isEqualTo(Http.JSON.readTree("{\"city\":\"Paris\"}"));
        assertThat(choice.get("finish_reason").asString()).isEqualTo("tool_calls");
        assertThat(json.get("usage").get("completion_tokens_details").get("reasoning_tokens").asInt())
                .as("<think>, five characters, </think>").isEqualTo(7);
    }

    @Test
    void reasoningAndAToolCallStreamedAsOpenAiDeltas() {
        fake.emits(thinkThenCall(), FinishReason.STOP);
        List<JsonNode> chunks = Http.sseJson(post("{\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"}],"
                + "\"tools\":[" + TOOL + "],\"stream\":true,\"stream_options\":{\"include_usage\":true}}"));
        StringBuilder reasoning = new StringBuilder();
        StringBuilder content = new StringBuilder();
        Map<Integer, String> ids = new LinkedHashMap<>();
        Map<Integer, String> names = new LinkedHashMap<>();
        Map<Integer, StringBuilder> arguments = new LinkedHashMap<>();
        String finish = null;
        for (JsonNode chunk : chunks) {
            for (JsonNode choice : chunk.get("choices")) {
                JsonNode delta = choice.get("delta");
                reasoning.append(delta.path("reasoning_content").asString(""));
                content.append(delta.path("content").asString(""));
                for (JsonNode call : delta.path("tool_calls")) {
                    int index = call.get("index").asInt();
                    if (call.has("id")) {
                        assertThat(ids.put(index, call.get("id").asString())).as("one id per call").isNull();
                        names.put(index, call.get("function").get("name").asString());
                    }
                    arguments.computeIfAbsent(index, i -> new StringBuilder())
                            .append(call.get("function").path("arguments").asString(""));
                }
                if (!choice.get("finish_reason").isNull()) {
                    finish = choice.get("finish_reason").asString();
                }
            }
        }
        assertThat(reasoning.toString()).isEqualTo("\nhmm\n");
        assertThat(content.toString()).isEmpty();
        assertThat(ids).containsOnlyKeys(0);
        assertThat(names).containsEntry(0, "get_weather");
        assertThat(Http.JSON.readTree(arguments.get(0).toString())).isEqualTo(Http.JSON.readTree("{\"city\":\"Paris\"}"));
        assertThat(finish).isEqualTo("tool_calls");
        assertThat(chunks.get(chunks.size() - 1).get("usage").get("completion_tokens_details").get("reasoning_tokens")
                .asInt()).isEqualTo(7);
    }

    @Test
    void anInvalidCallStaysContentAndFinishesWithStop() {
        fake.emits(script(id("<tool_call>"), "{\"name\": \"nope\"}", id("</tool_call>")), FinishReason.STOP);
        JsonNode message = Http.JSON.readTree(post("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                + "\"tools\":[" + TOOL + "]}")).get("choices").get(0);
        assertThat(message.get("message").get("content").asString())
                .isEqualTo("<tool_call>{\"name\": \"nope\"}</tool_call>");
        assertThat(message.get("message").has("tool_calls")).isFalse();
        assertThat(message.get("finish_reason").asString()).isEqualTo("stop");
    }

    @Test
    void toolsHistoryAndTheServersThinkingDefaultReachTheTemplate() {
        fake.emits(script("ok"), FinishReason.STOP);
        post("{\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},{\"role\":\"assistant\","
                + "\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
                + "\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}]},{\"role\":\"tool\","
                + "\"tool_call_id\":\"call_1\",\"content\":\"18C\"}],\"tools\":[" + TOOL + "]}");
        Map<String, Object> tool = Http.JSON.convertValue(Http.JSON.readTree(TOOL), Map.class);
        List<Map<String, Object>> messages = List.of(
                Map.of("role", "user", "content", "Weather in Paris?"),
                Map.of("role", "assistant", "content", "", "tool_calls", List.of(Map.of("type", "function",
                        "function", Map.of("name", "get_weather", "arguments", "{\"city\": \"Paris\"}")))),
                Map.of("role", "tool", "content", "18C"));
        String expected = model.tokenizer().chatTemplate().renderRaw(messages, List.of(tool), true,
                Map.of("enable_thinking", false));
        assertThat(expected).contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"")
                .contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>")
                .contains("<tool_response>\n18C\n</tool_response>").endsWith("<think>\n\n</think>\n\n");
        assertThat(model.tokenizer().decode(fake.submitted.get(0).promptTokens())).isEqualTo(expected);

        // A request's own enable_thinking wins over the server's default; tool_choice none leaves the tools out.
        post("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"chat_template_kwargs\":{\"enable_thinking\":true},"
                + "\"tools\":[" + TOOL + "],\"tool_choice\":\"none\"}");
        assertThat(model.tokenizer().decode(fake.submitted.get(1).promptTokens()))
                .isEqualTo(model.tokenizer().chatTemplate().render(List.of(ChatMessage.of("user", "Hi")), true,
                        Map.of("enable_thinking", true)));
    }

    @Test
    void badToolFieldsAre400sNamingTheField() {
        String user = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],";
        String[][] cases = {
            {"\"tools\":{}}", "tools"},
            {"\"tools\":[{\"type\":\"retrieval\"}]}", "tools[0].type"},
            {"\"tools\":[{\"type\":\"function\",\"function\":{}}]}", "tools[0].function.name"},
            {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]}", "tools[0].function.name"},
            {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":[]}}]}",
                "tools[0].function.parameters"},
            {"\"tool_choice\":\"required\"}", "tool_choice"},
            {"\"tools\":[" + TOOL + "],\"tool_choice\":\"always\"}", "tool_choice"},
            {"\"tools\":[" + TOOL + "],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"other\"}}}",
                "tool_choice.function.name"},
            {"\"tools\":[" + TOOL + "],\"parallel_tool_calls\":\"yes\"}", "parallel_tool_calls"},
        };
        for (String[] c : cases) {
            String body = client.post().uri("/v1/chat/completions").contentType(MediaType.APPLICATION_JSON)
                    .bodyValue(user + c[0]).exchange().expectStatus().isBadRequest().expectBody(String.class)
                    .returnResult().getResponseBody();
            assertThat(Http.JSON.readTree(body).get("error").get("param").asString()).as(c[0] + " → " + body)
                    .isEqualTo(c[1]);
        }
    }
}
