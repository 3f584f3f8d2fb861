package io.dmsserve.api;

import io.dmsserve.chat.ChatOutputParser;
import io.dmsserve.chat.ReasoningTokens;
import io.dmsserve.config.ServingModel;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import org.springframework.stereotype.Component;

/**
 * How a chat answer is split for the client: reasoning ({@code <think>}) when the model's vocabulary has the
 * tags, tool calls when the request has tools. Makes each choice's parser and reasoning counter.
 */
@Component
final class ChatOutputs {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();

    private final int thinkStart;
    private final int thinkEnd;

    ChatOutputs(ServingModel model) {
        OptionalInt start = model.tokenizer().tokenId("<think>");
        OptionalInt end = model.tokenizer().tokenId("</think>");
        this.thinkStart = start.isPresent() && end.isPresent() ? start.getAsInt() : -1;
        this.thinkEnd = start.isPresent() && end.isPresent() ? end.getAsInt() : -1;
    }

    boolean reasons() {
        return thinkStart >= 0;
    }

    int thinkEnd() {
        return thinkEnd;
    }

    int thinkStart() {
        return thinkStart;
    }

    ChatOutputParser parser(boolean startsInReasoning, ToolOptions tools) {
        return new ChatOutputParser(reasons(), startsInReasoning, tools.parsesCalls() ? tools.names() : Set.of());
    }

    ReasoningTokens reasoningCounter(boolean startsInReasoning) {
        return reasons() ? new ReasoningTokens(thinkStart, thinkEnd, startsInReasoning) : null;
    }

    /** OpenAI-style call id: {@code call_} and 24 random letters and digits. */
    static String callId() {
        char[] id = new char[24];
        for (int i = 0; i < id.length; i++) {
            id[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
        }
        return "call_" + new String(id);
    }

    /** A whole answer: its text parsed at once. */
    record Whole(String content, String reasoning, List<ChatCompletion.ToolCall> calls) {
    }

    static Whole whole(ChatOutputParser parser, String text) {
        List<ChatOutputParser.Piece> pieces = new ArrayList<>(parser.push(text));
        pieces.addAll(parser.finish());
        StringBuilder content = new StringBuilder();
        StringBuilder reasoning = new StringBuilder();
        boolean reasoned = false;
        List<ChatCompletion.ToolCall> calls = new ArrayList<>();
        for (ChatOutputParser.Piece piece : pieces) {
            if (piece instanceof ChatOutputParser.Content c) {
                content.append(c.text());
            } else if (piece instanceof ChatOutputParser.Reasoning r) {
                reasoning.append(r.text());
                reasoned = true;
            } else if (piece instanceof ChatOutputParser.ToolCall call) {
                calls.add(new ChatCompletion.ToolCall(callId(), "function",
                        new ChatCompletion.Function(call.name(), call.arguments())));
            }
        }
        return new Whole(calls.isEmpty() || !content.isEmpty() ? content.toString() : null,
                reasoned ? reasoning.toString() : null, calls);
    }
}
