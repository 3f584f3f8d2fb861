package io.dmsserve.chat;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.chat.ChatOutputParser.Content;
import io.dmsserve.chat.ChatOutputParser.Piece;
import io.dmsserve.chat.ChatOutputParser.Reasoning;
import io.dmsserve.chat.ChatOutputParser.ToolCall;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Reasoning, content and tool calls split out of Qwen3-style output, the same however the text is streamed. */
class ChatOutputParserTest {

    private static final Set<String> TOOLS = Set.of("get_weather", "add");

    /** Parsed whole, one char at a time, and in random pieces: all three must agree (neighbours merged). */
    private static List<Piece> parse(String text, boolean startsInReasoning, Set<String> tools) {
        List<Piece> whole = run(List.of(text), startsInReasoning, tools);
        List<String> chars = new ArrayList<>();
        text.codePoints().forEach(c -> chars.add(new String(Character.toChars(c))));
        assertThat(run(chars, startsInReasoning, tools)).as("char by char: %s", text).isEqualTo(whole);
        Random random = new Random(text.hashCode());
        for (int round = 0; round < 20; round++) {
            List<String> parts = new ArrayList<>();
            int at = 0;
            while (at < text.length()) {
                int end = Math.min(text.length(), at + 1 + random.nextInt(6));
                parts.add(text.substring(at, end));
                at = end;
            }
            assertThat(run(parts, startsInReasoning, tools)).as("pieces %s", parts).isEqualTo(whole);
        }
        return whole;
    }

    private static List<Piece> run(List<String> parts, boolean startsInReasoning, Set<String> tools) {
        ChatOutputParser parser = new ChatOutputParser(true, startsInReasoning, tools);
        List<Piece> out = new ArrayList<>();
        parts.forEach(p -> out.addAll(parser.push(p)));
        out.addAll(parser.finish());
        // merge neighbours of a kind: how text is cut may split a run
        List<Piece> merged = new ArrayList<>();
        for (Piece p : out) {
            Piece last = merged.isEmpty() ? null : merged.get(merged.size() - 1);
            if (last instanceof Reasoning a && p instanceof Reasoning b) {
                merged.set(merged.size() - 1, new Reasoning(a.text() + b.text()));
            } else if (last instanceof Content a && p instanceof Content b) {
                merged.set(merged.size() - 1, new Content(a.text() + b.text()));
            } else {
                merged.add(p);
            }
        }
        return merged;
    }

    @Test
    void thinkingGoesToReasoningAndTheBlankLinesAfterItAreDropped() {
        assertThat(parse("<think>\nLet me see.\n</think>\n\nThe answer is 4.", false, Set.of()))
                .containsExactly(new Reasoning("\nLet me see.\n"), new Content("The answer is 4."));
    }

    @Test
    void aPromptThatOpenedThinkingMakesTheOutputReasoningUntilTheEndTag() {
        assertThat(parse("step one</think>\n\nDone", true, Set.of()))
                .containsExactly(new Reasoning("step one"), new Content("Done"));
        assertThat(parse("never closed", true, Set.of())).containsExactly(new Reasoning("never closed"));
    }

    @Test
    void textNotOpeningWithTheTagIsContentEvenWithTagsLater() {
        assertThat(parse("Hello <think>x</think>", false, Set.of())).containsExactly(new Content("Hello <think>x</think>"));
        assertThat(parse("<thin", false, Set.of())).containsExactly(new Content("<thin"));
        assertThat(parse("<think>unfinished", false, Set.of())).containsExactly(new Reasoning("unfinished"));
    }

    @Test
    void toolCallsBecomeCallsWithCompactArgumentsAndNoContent() {
        String out = "<think>\nuse the tool\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                + "{\"city\": \"Paris\", \"days\": 2}}\n</tool_call>\n<tool_call>\n{\"name\": \"add\", \"arguments\": "
                + "{\"a\": 1.50, \"b\": [true, null]}}\n</tool_call>";
        assertThat(parse(out, false, TOOLS)).containsExactly(new Reasoning("\nuse the tool\n"),
                new ToolCall(0, "get_weather", "{\"city\":\"Paris\",\"days\":2}"),
                new ToolCall(1, "add", "{\"a\":1.50,\"b\":[true,null]}"));
    }

    @Test
    void contentAroundCallsStaysContent() {
        assertThat(parse("Let me check.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {}}\n</tool_call>\nDone.",
                false, TOOLS)).containsExactly(new Content("Let me check."), new ToolCall(0, "add", "{}"),
                        new Content("Done."));
    }

    @Test
    void whatIsNotAValidCallOfAKnownFunctionStaysContentAsWritten() {
        String badJson = "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": }\n</tool_call>";
        assertThat(parse(badJson, false, TOOLS)).containsExactly(new Content(badJson));
        String unknown = "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>";
        assertThat(parse(unknown, false, TOOLS)).containsExactly(new Content(unknown));
        String arrayArgs = "<tool_call>{\"name\": \"add\", \"arguments\": [1]}</tool_call>";
        assertThat(parse(arrayArgs, false, TOOLS)).containsExactly(new Content(arrayArgs));
        String unclosed = "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1";
        assertThat(parse(unclosed, false, TOOLS)).containsExactly(new Content(unclosed));
        assertThat(parse("<tool_cal", false, TOOLS)).containsExactly(new Content("<tool_cal"));
    }

    @Test
    void argumentsWrittenAsAJsonStringAreAccepted() {
        assertThat(parse("<tool_call>{\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>", false, TOOLS))
                .containsExactly(new ToolCall(0, "add", "{\"a\":1}"));
    }

    @Test
    void withoutToolsCallTagsAreContent() {
        String call = "<tool_call>\n{\"name\": \"add\", \"arguments\": {}}\n</tool_call>";
        assertThat(parse(call, false, Set.of())).containsExactly(new Content(call));
    }

    @Test
    void reasoningTokensCountFromTheOpeningTagThroughTheClosingOne() {
        ReasoningTokens counter = new ReasoningTokens(10, 11, false);
        for (int t : new int[] {10, 1, 2, 3, 11, 4, 5}) {
            counter.accept(t);
        }
        assertThat(counter.count()).isEqualTo(5);
        ReasoningTokens none = new ReasoningTokens(10, 11, false);
        for (int t : new int[] {1, 10, 2, 11}) {
            none.accept(t);
        }
        assertThat(none.count()).isZero();
        ReasoningTokens open = new ReasoningTokens(10, 11, true);
        for (int t : new int[] {1, 2, 11, 3}) {
            open.accept(t);
        }
        assertThat(open.count()).isEqualTo(3);
    }
}
