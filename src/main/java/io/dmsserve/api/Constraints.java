package io.dmsserve.api;

import io.dmsserve.config.ApiProperties;
import io.dmsserve.config.ServingModel;
import io.dmsserve.sampling.TokenConstraint;
import io.dmsserve.structured.Grammar;
import io.dmsserve.structured.GrammarConstraint;
import io.dmsserve.structured.Grammars;
import io.dmsserve.structured.SchemaException;
import io.dmsserve.structured.Vocabulary;
import io.dmsserve.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.stereotype.Component;
import tools.jackson.databind.JsonNode;

/**
 * Decoding constraints of chat requests: a forced tool call ({@code tool_choice} required or a named function)
 * or a JSON {@code response_format}, compiled by {@link Grammars} over the served tokenizer's vocabulary (built
 * on first use: the Qwen3 vocabulary takes a moment). A forced call wins over a response format.
 */
@Component
final class Constraints {

    /** A request's constraint, made fresh for each choice. */
    interface Plan {
        TokenConstraint constraint(GrammarConstraint.Start start);
    }

    private static final Plan NONE = start -> null;

    private final ServingModel model;
    private final int budget;
    private final int thinkStart;
    private final int thinkEnd;
    private volatile Grammars grammars;

    Constraints(ServingModel model, ApiProperties properties) {
        this.model = model;
        this.budget = properties.constrainedReasoningBudget();
        this.thinkStart = model.tokenizer().tokenId("<think>").orElse(-1);
        this.thinkEnd = model.tokenizer().tokenId("</think>").orElse(-1);
    }

    Plan plan(ChatCompletionRequest chat) {
        Grammar grammar;
        ToolOptions tools = chat.tools();
        if (tools.forcesCall()) {
            Map<String, JsonNode> functions = new LinkedHashMap<>();
            if (tools.choice() == ToolOptions.Choice.FUNCTION) {
                functions.put(tools.forced(), tools.functions().get(tools.forced()));
            } else {
                functions.putAll(tools.functions());
            }
            try {
                grammar = grammars().toolCalls(functions, tools.parallel() && tools.choice() == ToolOptions.Choice.REQUIRED);
            } catch (SchemaException e) {
                String name = e.keyword().substring(0, e.keyword().indexOf(':'));
                int index = new ArrayList<>(tools.functions().keySet()).indexOf(name);
                throw ApiException.invalidValue("tools[" + index + "].function.parameters", "'"
                        + e.keyword().substring(name.length() + 2) + "': " + e.getMessage());
            }
        } else if (chat.responseFormat() != null) {
            try {
                grammar = chat.responseFormat().jsonObject() ? grammars().jsonObject()
                        : grammars().schema(chat.responseFormat().schema());
            } catch (SchemaException e) {
                throw ApiException.invalidValue("response_format.json_schema.schema", "'" + e.keyword() + "': "
                        + e.getMessage());
            }
        } else {
            return NONE;
        }
        Grammar compiled = grammar;
        return start -> new GrammarConstraint(compiled, thinkStart < 0 || thinkEnd < 0
                ? GrammarConstraint.Start.GRAMMAR : start, thinkStart, thinkEnd, budget);
    }

    Grammars grammars() {
        Grammars g = grammars;
        if (g == null) {
            synchronized (this) {
                g = grammars;
                if (g == null) {
                    g = new Grammars(vocabulary(model.tokenizer(), model.eosTokenIds()));
                    grammars = g;
                }
            }
        }
        return g;
    }

    /** Each token's bytes; special tokens are not text (end-of-sequence ones are allowed where JSON is complete). */
    static Vocabulary vocabulary(Tokenizer tokenizer, java.util.Set<Integer> eos) {
        byte[][] bytes = new byte[tokenizer.vocabSize()][];
        for (int id = 0; id < bytes.length; id++) {
            bytes[id] = tokenizer.isSpecial(id) ? null : tokenizer.bytesOf(id);
        }
        return new Vocabulary(bytes, eos);
    }

}
