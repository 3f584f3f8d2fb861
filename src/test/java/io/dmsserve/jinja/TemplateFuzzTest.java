package io.dmsserve.jinja;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.InputStream;
import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The interpreter's contract, {@link Template#render} throws {@link TemplateException} and nothing else, under
 * seeded random contexts: the Qwen3 chat template with random conversations and kwargs (every variable a
 * client's {@code chat_template_kwargs} could shadow, globals included), and every reference template of
 * jinja-cases.json with random values for the variables. The API maps TemplateException to 400 and anything
 * else to 500, so an exception of another type here is a bug the HTTP fuzz test would report as a 5xx.
 */
class TemplateFuzzTest {

    private static final long SEED = 0x7E3_91A7EL;
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2025-03-07T14:05:09Z"), ZoneOffset.UTC);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Names a template may read: the chat-template variables, the test cases' ones, and globals to shadow. */
    private static final String[] NAMES = {"messages", "tools", "documents", "add_generation_prompt",
        "enable_thinking", "bos_token", "eos_token", "pad_token", "x", "y", "items", "d", "s", "n", "name", "user",
        "namespace", "range", "raise_exception", "dict", "loop", "lipsum", "cycler", "joiner", "strftime_now",
        "true", "none", "ns", "message", "content", "tool_call", "date_string", "tools_in_user_message"};

    private static final Object[] SCALARS = {null, true, false, 0L, 1L, -1L, 2L, 7L, 255L, Long.MAX_VALUE,
        Long.MIN_VALUE, Long.MIN_VALUE + 1, Integer.MAX_VALUE, Integer.MIN_VALUE, 3000000000L, 0.0, -0.0, 0.5, -2.5,
        1e308, -1e308, Double.MIN_VALUE, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 1e20, "",
        " ", "\n", "user", "assistant", "system", "tool", "<think>", "</think>", "<think>\nx\n</think>\ny",
        "<tool_response>", "<tool_response>x</tool_response>", "{", "}", "{}", "{0}", "%s", "%d", "%", "%(a)s",
        "\u00e9\u4e2d\ud83d\udca5", "\ud800", "\udc00", "\u0000", "a".repeat(300), "9223372036854775808", "-", "0x10",
        "1e400", "NaN", "True", "None", "<|im_start|>", new BigInteger("9223372036854775807"),
        new BigInteger("-9223372036854775808"), new BigInteger("99999999999999999999")};

    @Test
    void qwen3ChatTemplateThrowsOnlyTemplateExceptionsOnRandomConversations() throws Exception {
        JsonNode config = JSON.readTree(Path.of("src/test/resources/golden/qwen3-tokenizer/tokenizer_config.json")
                .toFile());
        Template template = Template.compile(config.get("chat_template").asString());
        Random random = new Random(SEED);
        List<String> failures = new ArrayList<>();
        int[] outcomes = new int[2];
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < 20_000; i++) {
                Map<String, Object> context = new LinkedHashMap<>();
                context.put("messages", conversation(random));
                context.put("tools", random.nextInt(3) == 0 ? value(random, 3) : null);
                context.put("add_generation_prompt", random.nextInt(4) == 0 ? value(random, 1) : random.nextBoolean());
                for (int k = random.nextInt(4); k > 0; k--) {
                    context.put(NAMES[random.nextInt(NAMES.length)], value(random, 3));
                }
                render(template, context, "qwen3 #" + i, failures, outcomes);
            }
        });
        assertThat(failures).as("exceptions other than TemplateException").isEmpty();
        assertThat(outcomes[0]).as("renders that succeeded").isGreaterThan(1000);
        assertThat(outcomes[1]).as("renders refused with TemplateException").isGreaterThan(1000);
    }

    @Test
    void referenceTemplatesThrowOnlyTemplateExceptionsOnRandomValues() throws Exception {
        JsonNode doc;
        try (InputStream in = TemplateFuzzTest.class.getResourceAsStream("/jinja/jinja-cases.json")) {
            doc = JSON.readTree(in);
        }
        Random random = new Random(SEED + 1);
        List<String> failures = new ArrayList<>();
        int[] outcomes = new int[2];
        int templates = 0;
        for (JsonNode c : doc.get("cases")) {
            boolean trim = c.get("trim").asBoolean();
            Template template;
            try {
                template = Template.compile(c.get("template").asString(), trim, trim);
            } catch (TemplateException e) {
                continue; // cases where jinja2 refuses the template itself
            }
            templates++;
            String name = c.get("name").asString();
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                for (int i = 0; i < 300; i++) {
                    Map<String, Object> context = new LinkedHashMap<>();
                    context.put("messages", conversation(random));
                    for (int k = 1 + random.nextInt(6); k > 0; k--) {
                        context.put(NAMES[random.nextInt(NAMES.length)], value(random, 3));
                    }
                    render(template, context, name + " #" + i, failures, outcomes);
                }
            }, name);
        }
        assertThat(templates).isGreaterThan(50);
        assertThat(failures).as("exceptions other than TemplateException").isEmpty();
        assertThat(outcomes[0]).isPositive();
        assertThat(outcomes[1]).isPositive();
    }

    private static void render(Template template, Map<String, Object> context, String what, List<String> failures,
            int[] outcomes) {
        try {
            template.render(context, CLOCK);
            outcomes[0]++;
        } catch (TemplateException e) {
            outcomes[1]++;
        } catch (RuntimeException | StackOverflowError e) {
            if (failures.size() < 20) {
                StackTraceElement at = e.getStackTrace().length > 0 ? e.getStackTrace()[0] : null;
                failures.add(what + ": " + e + " at " + at + " with " + shorten(String.valueOf(context)));
            }
        }
    }

    private static List<Object> conversation(Random random) {
        String[] roles = {"system", "user", "assistant", "tool", "user", "assistant", "developer", ""};
        List<Object> messages = new ArrayList<>();
        for (int n = random.nextInt(6); n > 0; n--) {
            if (random.nextInt(20) == 0) {
                messages.add(value(random, 2));
                continue;
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", random.nextInt(10) == 0 ? value(random, 1) : roles[random.nextInt(roles.length)]);
            if (random.nextInt(10) != 0) {
                m.put("content", random.nextInt(4) == 0 ? value(random, 2) : text(random));
            }
            if (random.nextInt(4) == 0) {
                m.put("reasoning_content", random.nextBoolean() ? text(random) : value(random, 1));
            }
            if (random.nextInt(4) == 0) {
                List<Object> calls = new ArrayList<>();
                for (int k = random.nextInt(3); k >= 0; k--) {
                    Map<String, Object> function = new LinkedHashMap<>();
                    function.put("name", random.nextBoolean() ? text(random) : value(random, 1));
                    function.put("arguments", random.nextBoolean() ? "{\"a\": 1}" : value(random, 2));
                    Map<String, Object> call = new LinkedHashMap<>();
                    call.put("type", "function");
                    call.put("function", random.nextInt(5) == 0 ? value(random, 1) : function);
                    calls.add(random.nextInt(3) == 0 ? function : call);
                }
                m.put("tool_calls", random.nextInt(5) == 0 ? value(random, 1) : calls);
            }
            messages.add(m);
        }
        return messages;
    }

    private static String text(Random random) {
        Object s = SCALARS[random.nextInt(SCALARS.length)];
        return s instanceof String str ? str : "hello " + random.nextInt(100);
    }

    /** A random value of what JSON brings in (Jackson's Java types), nested at most {@code depth} deep. */
    private static Object value(Random random, int depth) {
        int kind = depth <= 0 ? 0 : random.nextInt(5);
        switch (kind) {
            case 1 -> {
                List<Object> list = new ArrayList<>();
                for (int n = random.nextInt(4); n > 0; n--) {
                    list.add(value(random, depth - 1));
                }
                return list;
            }
            case 2 -> {
                Map<String, Object> map = new LinkedHashMap<>();
                for (int n = random.nextInt(4); n > 0; n--) {
                    String key = random.nextBoolean() ? NAMES[random.nextInt(NAMES.length)]
                            : new String[] {"role", "content", "name", "arguments", "function", "type", "items",
                                "keys", "values", "get", "startswith", "__class__", "mro", ""}[random.nextInt(14)];
                    map.put(key, value(random, depth - 1));
                }
                return map;
            }
            default -> {
                return SCALARS[random.nextInt(SCALARS.length)];
            }
        }
    }

    private static String shorten(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }
}
