package io.dmsserve.jinja;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.ObjectMapper;

/**
 * Every case in jinja-cases.json was rendered by Python jinja2 in transformers' chat-template
 * environment (src/test/resources/jinja/make_jinja_cases.py); we must render the same text, or
 * fail where jinja2 fails.
 */
class JinjaReferenceCasesTest {

    private static final Clock CLOCK = Clock.fixed(
            LocalDateTime.of(2025, 3, 7, 14, 5, 9).atZone(ZoneId.systemDefault()).toInstant(), ZoneId.systemDefault());

    @SuppressWarnings("unchecked")
    static Stream<Arguments> cases() throws Exception {
        Map<String, Object> doc;
        try (InputStream in = JinjaReferenceCasesTest.class.getResourceAsStream("/jinja/jinja-cases.json")) {
            doc = new ObjectMapper().readValue(in, Map.class);
        }
        Map<String, Object> context = new HashMap<>((Map<String, Object>) doc.get("context"));
        context.put("add_generation_prompt", true);
        List<Map<String, Object>> cases = (List<Map<String, Object>>) doc.get("cases");
        return cases.stream().map(c -> Arguments.of(Named.of((String) c.get("name"), c), context));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void rendersLikeJinja2(Map<String, Object> c, Map<String, Object> context) {
        String source = (String) c.get("template");
        boolean trim = (Boolean) c.get("trim");
        if (c.containsKey("error")) {
            assertThatThrownBy(() -> Template.compile(source, trim, trim).render(context, CLOCK))
                    .as("jinja2 raised %s", c.get("error"))
                    .isInstanceOf(TemplateException.class);
        } else {
            assertThat(Template.compile(source, trim, trim).render(context, CLOCK)).isEqualTo(c.get("rendered"));
        }
    }
}
