package io.dmsserve.chat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Splits a chat model's streamed text into reasoning, content and tool calls, as vLLM's Qwen3 reasoning parser
 * and Hermes tool parser do: {@code <think>…</think>} at the start (or from the start, when the prompt already
 * opened it) is reasoning; {@code <tool_call>{"name": …, "arguments": {…}}</tool_call>} blocks are calls. Text
 * that might still become a tag is held back until it is decided; a block that is not a valid call of a known
 * function stays content, as written. One instance per choice; not thread-safe.
 */
public final class ChatOutputParser {

    static final String THINK_START = "<think>";
    static final String THINK_END = "</think>";
    static final String CALL_START = "<tool_call>";
    static final String CALL_END = "</tool_call>";

    /** What the parser found, in order. */
    public sealed interface Piece {
    }

    public record Reasoning(String text) implements Piece {
    }

    public record Content(String text) implements Piece {
    }

    /** A complete call: {@code index} counts the choice's calls from 0; arguments are a JSON object's text. */
    public record ToolCall(int index, String name, String arguments) implements Piece {
    }

    private enum Mode { START, REASONING, CONTENT_START, CONTENT, CALL }

    private final boolean reasoning;
    private final Set<String> functions;
    private Mode mode;
    private final StringBuilder pending = new StringBuilder(); // undecided text of the current mode
    private int calls;

    /**
     * @param reasoning whether the model has {@code <think>} tags (false: everything is content or calls)
     * @param startsInReasoning the prompt ends inside an open {@code <think>}: output is reasoning until the end tag
     * @param functions names of the request's tools; empty: no tool-call parsing
     */
    public ChatOutputParser(boolean reasoning, boolean startsInReasoning, Set<String> functions) {
        this.reasoning = reasoning;
        this.functions = Set.copyOf(functions);
        this.mode = !reasoning ? Mode.CONTENT : startsInReasoning ? Mode.REASONING : Mode.START;
    }

    /** Whether a tool call was found so far. */
    public boolean calledTools() {
        return calls > 0;
    }

    public List<Piece> push(String text) {
        List<Piece> out = new ArrayList<>();
        pending.append(text);
        boolean progress = true;
        while (progress && !pending.isEmpty()) {
            progress = step(out);
        }
        return merge(out);
    }

    /** The end of the output: whatever was held back, as what it is now. */
    public List<Piece> finish() {
        List<Piece> out = new ArrayList<>();
        String rest = pending.toString();
        pending.setLength(0);
        switch (mode) {
            case REASONING -> add(out, new Reasoning(rest));
            case CALL -> add(out, new Content(CALL_START + rest));
            case CONTENT_START, START, CONTENT -> {
                // Whitespace after the last call is not an answer of its own.
                if (!(calls > 0 && rest.isBlank())) {
                    add(out, new Content(mode == Mode.CONTENT_START ? rest.stripLeading() : rest));
                }
            }
        }
        return merge(out);
    }

    /** One decision on the pending text; false when more text is needed. */
    private boolean step(List<Piece> out) {
        String s = pending.toString();
        switch (mode) {
            case START -> {
                if (s.startsWith(THINK_START)) {
                    consume(THINK_START.length());
                    mode = Mode.REASONING;
                    return true;
                }
                if (THINK_START.startsWith(s)) {
                    return false;
                }
                mode = Mode.CONTENT;
                return true;
            }
            case REASONING -> {
                int end = s.indexOf(THINK_END);
                if (end >= 0) {
                    add(out, new Reasoning(s.substring(0, end)));
                    consume(end + THINK_END.length());
                    mode = Mode.CONTENT_START;
                    return true;
                }
                int keep = partialSuffix(s, THINK_END);
                add(out, new Reasoning(s.substring(0, s.length() - keep)));
                consume(s.length() - keep);
                return false;
            }
            case CONTENT_START -> {
                // The blank lines after </think> (Qwen3 writes "\n\n") or a call are not content.
                String stripped = s.stripLeading();
                consume(s.length() - stripped.length());
                if (stripped.isEmpty()) {
                    return false;
                }
                mode = Mode.CONTENT;
                return true;
            }
            case CONTENT -> {
                if (functions.isEmpty()) {
                    add(out, new Content(s));
                    consume(s.length());
                    return false;
                }
                int start = s.indexOf(CALL_START);
                if (start >= 0) {
                    emitContent(out, s.substring(0, start), true);
                    consume(start + CALL_START.length());
                    mode = Mode.CALL;
                    return true;
                }
                int keep = partialSuffix(s, CALL_START);
                String decided = s.substring(0, s.length() - keep);
                // Trailing whitespace waits: if a call follows, it separated calls and is no content.
                int ws = decided.length() - decided.stripTrailing().length();
                emitContent(out, decided.substring(0, decided.length() - ws), false);
                consume(decided.length() - ws);
                return false;
            }
            case CALL -> {
                int end = s.indexOf(CALL_END);
                if (end < 0) {
                    return false;
                }
                String body = s.substring(0, end);
                consume(end + CALL_END.length());
                mode = Mode.CONTENT;
                ToolCallJson.Call call = ToolCallJson.parse(body, functions);
                if (call == null) {
                    add(out, new Content(CALL_START + body + CALL_END));
                } else {
                    out.add(new ToolCall(calls++, call.name(), call.arguments()));
                    mode = Mode.CONTENT_START; // what separates calls ("\n") is not content
                }
                return true;
            }
            default -> throw new IllegalStateException(mode.name());
        }
    }

    private void emitContent(List<Piece> out, String text, boolean beforeCall) {
        add(out, new Content(beforeCall ? text.stripTrailing() : text));
    }

    private void consume(int n) {
        pending.delete(0, n);
    }

    private static void add(List<Piece> out, Piece piece) {
        if (piece instanceof Reasoning r && r.text().isEmpty() || piece instanceof Content c && c.text().isEmpty()) {
            return;
        }
        out.add(piece);
    }

    /** Neighbouring pieces of one kind as one. */
    private static List<Piece> merge(List<Piece> pieces) {
        List<Piece> out = new ArrayList<>(pieces.size());
        for (Piece p : pieces) {
            Piece last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (last instanceof Reasoning a && p instanceof Reasoning b) {
                out.set(out.size() - 1, new Reasoning(a.text() + b.text()));
            } else if (last instanceof Content a && p instanceof Content b) {
                out.set(out.size() - 1, new Content(a.text() + b.text()));
            } else {
                out.add(p);
            }
        }
        return out;
    }

    /** The length of the longest suffix of s that is a proper prefix of tag (text that may still become it). */
    static int partialSuffix(String s, String tag) {
        for (int k = Math.min(s.length(), tag.length() - 1); k > 0; k--) {
            if (s.regionMatches(s.length() - k, tag, 0, k)) {
                return k;
            }
        }
        return 0;
    }
}
