package io.dmsserve.api;

import io.dmsserve.config.ServingModel;
import io.dmsserve.tokenizer.ChatMessage;
import io.dmsserve.tokenizer.Tokenizer;
import io.dmsserve.jinja.TemplateException;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/** Renders chat messages with the model's chat template and tokenizes prompts. CPU work: not on the event loop. */
@Component("apiPrompts")
final class Prompts {

    private static final Logger log = LoggerFactory.getLogger(Prompts.class);

    private final Tokenizer tokenizer;

    Prompts(ServingModel model) {
        this.tokenizer = model.tokenizer();
    }

    /** The conversation with the generation prompt, as tokens; a template that rejects it is a 400. */
    int[] chat(List<ChatMessage> messages, Map<String, Object> templateKwargs) {
        if (!tokenizer.hasChatTemplate()) {
            throw ApiException.invalid(null, "no_chat_template",
                    "This model has no chat template; use /v1/completions with a prompt instead.");
        }
        String text;
        try {
            text = tokenizer.chatTemplate().render(messages, true, templateKwargs);
        } catch (TemplateException e) {
            throw ApiException.invalid("messages", "invalid_messages",
                    "The chat template cannot render these messages: " + e.reason());
        } catch (RuntimeException e) {
            // Odd values (e.g. in chat_template_kwargs) may trip the template in other ways; still the input's doing.
            log.warn("chat template failed on a request", e);
            throw ApiException.invalid("messages", "invalid_messages",
                    "The chat template cannot render these messages: " + e.getMessage());
        }
        return encode(text, "messages");
    }

    int[] text(String prompt) {
        return encode(prompt, "prompt");
    }

    private int[] encode(String text, String param) {
        try {
            return tokenizer.encode(Text.wellFormed(text));
        } catch (RuntimeException e) {
            log.warn("tokenizer failed on a request", e);
            throw ApiException.invalid(param, "invalid_text", "The text cannot be tokenized: " + e.getMessage());
        }
    }
}
