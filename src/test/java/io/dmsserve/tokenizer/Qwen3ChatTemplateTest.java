package io.dmsserve.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.jinja.TemplateException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The real Qwen3 chat template with expectations worked out by reading it (golden/qwen3-tokenizer/
 * tokenizer_config.json). Every piece of whitespace between tags is removed by {@code -}, so the
 * output is exactly the concatenated string literals.
 */
class Qwen3ChatTemplateTest {

    private static Tokenizer tokenizer;
    private static ChatTemplate template;

    @BeforeAll
    static void load() {
        tokenizer = TestTokenizers.qwen3();
        template = tokenizer.chatTemplate();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static ChatMessage msg(String role, String content) {
        return ChatMessage.of(role, content);
    }

    @Test
    void systemAndUserWithGenerationPrompt() {
        String out = template.render(List.of(msg("system", "You are a helpful assistant."), msg("user", "Hello!")),
                true, Map.of());
        assertThat(out).isEqualTo("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\n");
    }

    @Test
    void withoutGenerationPrompt() {
        assertThat(template.render(List.of(msg("user", "Hello!")), false))
                .isEqualTo("<|im_start|>user\nHello!<|im_end|>\n");
    }

    @Test
    void enableThinkingFalseAddsEmptyThinkBlock() {
        String out = template.render(List.of(msg("user", "Hello!")), true, Map.of("enable_thinking", false));
        assertThat(out).isEqualTo("<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    }

    @Test
    void enableThinkingTrueIsTheDefault() {
        List<ChatMessage> messages = List.of(msg("user", "Hello!"));
        assertThat(template.render(messages, true, Map.of("enable_thinking", true)))
                .isEqualTo(template.render(messages, true, Map.of()))
                .isEqualTo("<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
    }

    @Test
    void systemMessageOnlyAtStartIsTheHeader() {
        // a system message later in the conversation is rendered like a user turn
        String out = template.render(List.of(msg("user", "a"), msg("system", "b")), false);
        assertThat(out).isEqualTo("<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n");
    }

    @Test
    void earlierAssistantTurnLosesItsReasoning() {
        // the last user query is message 2, so the assistant at index 1 is before it: content only
        String out = template.render(List.of(
                msg("user", "What is 2+2?"),
                msg("assistant", "<think>\nLet me add.\n</think>\n\n2+2=4."),
                msg("user", "And 3+3?")), true);
        assertThat(out).isEqualTo("<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n2+2=4.<|im_end|>\n"
                + "<|im_start|>user\nAnd 3+3?<|im_end|>\n"
                + "<|im_start|>assistant\n");
    }

    @Test
    void finalAssistantTurnKeepsReasoningFromContent() {
        String out = template.render(List.of(
                msg("user", "Hi"),
                msg("assistant", "<think>\nhmm\n</think>\n\nHello!")), false);
        assertThat(out).isEqualTo("<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\nhmm\n</think>\n\nHello!<|im_end|>\n");
    }

    @Test
    void finalAssistantTurnUsesReasoningContentField() {
        String out = template.render(List.of(
                msg("user", "Hi"),
                new ChatMessage("assistant", "\nHello!", "\n\nthinking...\n")), false);
        // reasoning is stripped of newlines, content left-stripped
        assertThat(out).isEqualTo("<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\nthinking...\n</think>\n\nHello!<|im_end|>\n");
    }

    @Test
    void finalAssistantTurnWithoutReasoningGetsEmptyThinkBlock() {
        String out = template.render(List.of(msg("user", "Hi"), msg("assistant", "Hello!")), false);
        assertThat(out).isEqualTo("<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>\n");
    }

    @Test
    void consecutiveToolMessagesShareOneUserTurn() {
        String out = template.render(List.of(
                msg("system", "You are a weather bot."),
                msg("user", "Weather in Paris and Rome?"),
                msg("assistant", "<think>\nNeed two lookups.\n</think>\n\nChecking both."),
                msg("tool", "{\"city\": \"Paris\", \"temp\": 18}"),
                msg("tool", "{\"city\": \"Rome\", \"temp\": 24}")), true);
        // the assistant turn comes after the last user query (index 1) and has reasoning: kept
        assertThat(out).isEqualTo("<|im_start|>system\nYou are a weather bot.<|im_end|>\n"
                + "<|im_start|>user\nWeather in Paris and Rome?<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\nNeed two lookups.\n</think>\n\nChecking both.<|im_end|>\n"
                + "<|im_start|>user\n<tool_response>\n{\"city\": \"Paris\", \"temp\": 18}\n</tool_response>"
                + "\n<tool_response>\n{\"city\": \"Rome\", \"temp\": 24}\n</tool_response><|im_end|>\n"
                + "<|im_start|>assistant\n");
    }

    @Test
    void toolResponseWrappedUserMessageIsNotTheLastQuery() {
        // multi-step tool use: a user message that is only a <tool_response> does not count as the query,
        // so the assistant turn after the real question keeps its reasoning
        String out = template.render(List.of(
                msg("user", "Q"),
                msg("assistant", "<think>\nr1\n</think>\n\nA1"),
                msg("user", "<tool_response>\nX\n</tool_response>")), false);
        assertThat(out).isEqualTo("<|im_start|>user\nQ<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\nr1\n</think>\n\nA1<|im_end|>\n"
                + "<|im_start|>user\n<tool_response>\nX\n</tool_response><|im_end|>\n");
    }

    @Test
    void toolsAndToolCalls() {
        Map<String, Object> tool = map("type", "function", "function", map(
                "name", "get_weather",
                "description", "Get weather",
                "parameters", map("type", "object")));
        List<Map<String, Object>> messages = List.of(
                map("role", "user", "content", "Weather in Paris?"),
                map("role", "assistant", "content", "", "tool_calls", List.of(map("type", "function",
                        "function", map("name", "get_weather", "arguments", map("city", "Paris"))))),
                map("role", "tool", "content", "18C"));
        String out = template.renderRaw(messages, List.of(tool), true, Map.of());
        assertThat(out).isEqualTo("<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with"
                + " the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n"
                + "<tools>\n"
                + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\":"
                + " \"Get weather\", \"parameters\": {\"type\": \"object\"}}}"
                + "\n</tools>\n\nFor each function call, return a json object with function name and arguments"
                + " within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>,"
                + " \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
                + "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
                + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"
                + "\n</tool_call><|im_end|>\n"
                + "<|im_start|>user\n<tool_response>\n18C\n</tool_response><|im_end|>\n"
                + "<|im_start|>assistant\n");
    }

    @Test
    void renderedPromptEncodesWithSpecialTokenIds() {
        String out = template.render(List.of(msg("user", "Hi")), true, Map.of("enable_thinking", false));
        int[] ids = tokenizer.encode(out);
        int imStart = tokenizer.tokenId("<|im_start|>").orElseThrow();
        int imEnd = tokenizer.tokenId("<|im_end|>").orElseThrow();
        int thinkOpen = tokenizer.tokenId("<think>").orElseThrow();
        assertThat(ids[0]).isEqualTo(imStart);
        assertThat(ids).contains(imEnd, thinkOpen);
        assertThat(tokenizer.decode(ids)).isEqualTo(out);
    }

    @Test
    void nullContentFailsWithLineNumber() {
        assertThatThrownBy(() -> template.render(List.of(msg("user", null)), true))
                .isInstanceOf(TemplateException.class)
                .hasMessageContaining("template line");
    }
}
