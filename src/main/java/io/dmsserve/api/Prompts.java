package io.dmsserve.api;

import io.dmsserve.config.ServingModel;
import io.dmsserve.tokenizer.ChatMessage;
import io.dmsserve.tokenizer.ChatTemplate;
import io.dmsserve.tokenizer.Tokenizer;
import io.dmsserve.jinja.TemplateException;
import java.util.List;
import java.util.Map;
import org.springframework.stereotype.Component;

/** Renders chat messages with the model's chat template and tokenizes prompts. CPU work: not on the event loop. */
@Component("apiPrompts")
final class Prompts {

    private final Tokenizer tokenizer;

    Prompts(ServingModel model) {
        this.tokenizer = model.tokenizer();
    }

    /**
     * The conversation with the generation prompt, as tokens. A template that rejects the conversation or
     * fails on the client's values (a {@link TemplateException}) is a 400; any other exception is a bug here
     * and surfaces as a 500.
     */
    int[] chat(List<ChatMessage> messages, Map<String, Object> templateKwargs) {
        return chat(messages, List.of(), templateKwargs).tokens();
    }

    /**
     * A rendered conversation: its tokens, and whether it ends inside an open {@code <think>} (a template that
     * starts the reasoning itself), so that the output is reasoning from its first token.
     */
    record ChatPrompt(int[] tokens, boolean startsInReasoning, boolean thinkingClosed) {
    }

    ChatPrompt chat(List<ChatMessage> messages, List<Map<String, Object>> tools, Map<String, Object> templateKwargs) {
        if (!tokenizer.hasChatTemplate()) {
            throw ApiException.invalid(null, "no_chat_template",
                    "This model has no chat template; use /v1/completions with a prompt instead.");
        }
        // Outside the try: a model whose own template does not compile is the server's problem, not the client's.
        ChatTemplate template = tokenizer.chatTemplate();
        String text;
        try {
            text = template.render(messages, tools, true, templateKwargs);
        } catch (TemplateException e) {
            throw ApiException.invalid("messages", "invalid_messages",
                    "The chat template cannot render these messages: " + e.reason());
        }
        int open = text.lastIndexOf("<think>");
        return new ChatPrompt(encode(text), open >= 0 && open > text.lastIndexOf("</think>")
                && text.substring(open + "<think>".length()).isBlank(), text.stripTrailing().endsWith("</think>"));
    }

    int[] text(String prompt) {
        return encode(prompt);
    }

    /**
     * Any well-formed text can be tokenized (lone surrogates are replaced first), so the tokenizer has no
     * input error to report: a failure here is the server's.
     */
    private int[] encode(String text) {
        return tokenizer.encode(Text.wellFormed(text));
    }
}
