package io.dmsserve.tokenizer;

import io.dmsserve.jinja.Template;
import io.dmsserve.jinja.TemplateException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face chat template, rendered like {@code tokenizer.apply_chat_template(messages,
 * tokenize=False, add_generation_prompt=..., **kwargs)}: the template sees {@code messages},
 * {@code tools} (None unless given), {@code documents} (None), {@code add_generation_prompt}, the
 * tokenizer's named special tokens ({@code eos_token}, {@code pad_token}, ...) and the extra kwargs,
 * which override everything else. Thread-safe.
 */
public final class ChatTemplate {

    private final String source;
    private final Template template;
    private final Map<String, Object> specialTokens;
    private final Clock clock;

    ChatTemplate(String source, Map<String, Object> specialTokens, Clock clock) {
        this.source = source;
        this.template = Template.compile(source);
        this.specialTokens = Map.copyOf(specialTokens);
        this.clock = clock;
    }

    /**
     * A template not read from a tokenizer_config (tests, overrides).
     *
     * @throws TemplateException when the source does not parse
     */
    public static ChatTemplate of(String source, Map<String, String> specialTokens) {
        return new ChatTemplate(source, new HashMap<>(specialTokens), Clock.systemDefaultZone());
    }

    ChatTemplate withClock(Clock c) {
        return new ChatTemplate(source, specialTokens, c);
    }

    public String source() {
        return source;
    }

    /**
     * Renders a conversation.
     *
     * @param extraKwargs template variables such as {@code enable_thinking=false}; may be empty
     * @throws TemplateException on a template error; {@link TemplateException#raisedByTemplate()} is
     *     true when the template rejected the conversation itself (raise_exception)
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> extraKwargs) {
        return render(messages, null, addGenerationPrompt, extraKwargs);
    }

    /** With tools: OpenAI's tool dicts ({@code {"type": "function", "function": {...}}}), null or empty for none. */
    public String render(List<ChatMessage> messages, List<? extends Map<String, ?>> tools, boolean addGenerationPrompt,
            Map<String, Object> extraKwargs) {
        List<Map<String, Object>> dicts = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            dicts.add(m.toTemplateValue());
        }
        return renderRaw(dicts, tools == null || tools.isEmpty() ? null : tools, addGenerationPrompt, extraKwargs);
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders OpenAI-style message dicts as given (e.g. with {@code tool_calls}), plus tool JSON
     * schemas ({@code tools}, null for none). Values may be String, Boolean, numbers, null, List, Map.
     */
    public String renderRaw(List<? extends Map<String, ?>> messages, List<? extends Map<String, ?>> tools,
            boolean addGenerationPrompt, Map<String, ?> extraKwargs) {
        Objects.requireNonNull(messages, "messages");
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.put("messages", messages);
        ctx.put("tools", tools);
        ctx.put("documents", null);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        if (extraKwargs != null) {
            ctx.putAll(extraKwargs);
        }
        return template.render(ctx, clock);
    }
}
