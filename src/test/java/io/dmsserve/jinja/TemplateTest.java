package io.dmsserve.jinja;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Small templates, expected output worked out from jinja2's documented behaviour. */
class TemplateTest {

    private static String render(String source, Object... kv) {
        Map<String, Object> ctx = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            ctx.put((String) kv[i], kv[i + 1]);
        }
        return Template.compile(source).render(ctx);
    }

    @Nested
    class Whitespace {

        @Test
        void dashStripsAllWhitespaceOnItsSide() {
            assertThat(render("a \n {{- 'x' -}} \n b")).isEqualTo("axb");
            assertThat(render("a \n {{ 'x' }} \n b")).isEqualTo("a \n x \n b");
        }

        @Test
        void trimBlocksRemovesTheNewlineAfterABlockTag() {
            assertThat(render("{% if true %}\nyes\n{% endif %}\nno")).isEqualTo("yes\nno");
        }

        @Test
        void lstripBlocksRemovesIndentationBeforeABlockTagOnly() {
            assertThat(render("  {% if true %}\n  x\n  {% endif %}\n")).isEqualTo("  x\n");
            assertThat(render("a  {% if true %}b{% endif %}")).isEqualTo("a  b"); // tag not at line start
        }

        @Test
        void withoutTrimAndLstripEverythingIsKept() {
            assertThat(Template.compile("  {% if true %}\nx\n{% endif %}\n", false, false).render(Map.of()))
                    .isEqualTo("  \nx\n");
        }

        @Test
        void plusKeepsWhitespace() {
            assertThat(render("  {%+ if true %}x{% endif %}")).isEqualTo("  x");
        }

        @Test
        void oneTrailingNewlineOfTheTemplateIsDropped() {
            assertThat(render("x\n")).isEqualTo("x");
            assertThat(render("x\n\n")).isEqualTo("x\n");
        }

        @Test
        void commentsVanishWithTheirLine() {
            assertThat(render("a\n  {# a comment #}\nb")).isEqualTo("a\nb");
        }
    }

    @Nested
    class Expressions {

        @Test
        void slicingWithSteps() {
            List<Integer> xs = List.of(1, 2, 3, 4, 5);
            assertThat(render("{{ xs[::-1] }}|{{ xs[1:3] }}|{{ xs[::2] }}|{{ xs[-2:] }}|{{ xs[3:1:-1] }}", "xs", xs))
                    .isEqualTo("[5, 4, 3, 2, 1]|[2, 3]|[1, 3, 5]|[4, 5]|[4, 3]");
            assertThat(render("{{ s[::-1] }}|{{ s[1:-1] }}|{{ s[-1] }}", "s", "héllo😀"))
                    .isEqualTo("😀olléh|éllo|😀");
        }

        @Test
        void negativeIndexesAndMissingItems() {
            assertThat(render("{{ xs[-1] }}[{{ xs[9] }}]{{ d['k'] }}{{ d.k }}", "xs", List.of(1, 2), "d", Map.of("k", "v")))
                    .isEqualTo("2[]vv");
        }

        @Test
        void pythonValuesPrintLikePython() {
            assertThat(render("{{ none }} {{ true }} {{ 1.0 }} {{ [1, 'a', none] }} {{ {'a': (1,)} }}"))
                    .isEqualTo("None True 1.0 [1, 'a', None] {'a': (1,)}");
        }

        @Test
        void stringMethods() {
            assertThat(render("{{ s.startswith('<a>') }} {{ s.endswith('</a>') }} {{ s.split('>')[-1] }}"
                    + " [{{ '\\nx\\n'.strip('\\n') }}] [{{ '\\n\\nx'.lstrip('\\n') }}] [{{ 'x\\n\\n'.rstrip('\\n') }}]"
                    + " {{ s.upper() }} {{ s.replace('a', 'b') }} {{ 'a b'.split() }}", "s", "<a>t</a>"))
                    .isEqualTo("True True  [x] [x] [x] <A>T</A> <b>t</b> ['a', 'b']");
        }

        @Test
        void inOperatorAndTests() {
            assertThat(render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}"))
                    .isEqualTo("True True True True");
            assertThat(render("{{ x is defined }} {{ y is defined }} {{ n is none }} {{ n is not none }}"
                    + " {{ s is string }} {{ f is false }} {{ 0 is false }}", "x", 1, "n", null, "s", "s", "f", false))
                    .isEqualTo("True False True False True True False");
        }

        @Test
        void arithmeticAndConcatenation() {
            assertThat(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 'a' + 'b' }} {{ 1 ~ 'x' }}"
                    + " {{ (xs|length - 1) - 1 }}", "xs", List.of(1, 2, 3)))
                    .isEqualTo("3 -4 1 3.5 ab 1x 1");
        }

        @Test
        void filters() {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("name", "f");
            d.put("args", Map.of("x", "é\""));
            assertThat(render("{{ d|tojson }}|{{ xs|length }}|{{ xs|join(',') }}|{{ '  t '|trim }}|{{ u|default('D') }}"
                    + "|{{ xs|first }}{{ xs|last }}|{{ d|items|list|length }}", "d", d, "xs", List.of(1, 2)))
                    .isEqualTo("{\"name\": \"f\", \"args\": {\"x\": \"é\\\"\"}}|2|1,2|t|D|12|2");
        }
    }

    @Nested
    class Statements {

        @Test
        void loopVariables() {
            assertThat(render("{% for x in xs %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};"
                    + "{% endfor %}", "xs", List.of("a", "b")))
                    .isEqualTo("0TrueFalse2;1FalseTrue2;");
        }

        @Test
        void namespaceCarriesStateOutOfLoops() {
            assertThat(render("{% set ns = namespace(n=0, last=none) %}{% set plain = 0 %}"
                    + "{% for x in xs %}{% set ns.n = ns.n + x %}{% set ns.last = x %}{% set plain = x %}{% endfor %}"
                    + "{{ ns.n }} {{ ns.last }} {{ plain }}", "xs", List.of(1, 2, 3)))
                    .isEqualTo("6 3 0");
        }

        @Test
        void assigningAnAttributeOfANonNamespaceFails() {
            assertThatThrownBy(() -> render("{% set d = {} %}{% set d.x = 1 %}"))
                    .isInstanceOf(TemplateException.class)
                    .hasMessageContaining("non-namespace");
        }

        @Test
        void ifElifElse() {
            String t = "{% if x > 1 %}big{% elif x == 1 %}one{% else %}small{% endif %}";
            assertThat(render(t, "x", 5)).isEqualTo("big");
            assertThat(render(t, "x", 1)).isEqualTo("one");
            assertThat(render(t, "x", 0)).isEqualTo("small");
        }

        @Test
        void loopElseBreakContinue() {
            assertThat(render("{% for x in [] %}x{% else %}none{% endfor %}")).isEqualTo("none");
            assertThat(render("{% for x in range(6) %}{% if x == 1 %}{% continue %}{% endif %}"
                    + "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}")).isEqualTo("023");
        }

        @Test
        void macrosWithDefaults() {
            assertThat(render("{% macro tag(name, body='') %}<{{ name }}>{{ body }}</{{ name }}>{% endmacro %}"
                    + "{{ tag('a') }}{{ tag('b', body='x') }}")).isEqualTo("<a></a><b>x</b>");
        }
    }

    @Nested
    class Errors {

        @Test
        void raiseExceptionKeepsTheTemplatesMessage() {
            assertThatThrownBy(() -> render("{% if messages|length == 0 %}\n{{ raise_exception('No messages') }}"
                    + "{% endif %}", "messages", List.of()))
                    .isInstanceOfSatisfying(TemplateException.class, e -> {
                        assertThat(e.raisedByTemplate()).isTrue();
                        assertThat(e.getMessage()).isEqualTo("No messages");
                        assertThat(e.line()).isEqualTo(2);
                    });
        }

        @Test
        void runtimeErrorsNameTheLine() {
            assertThatThrownBy(() -> render("line one\nline two\n{{ 'a' + 1 }}"))
                    .isInstanceOfSatisfying(TemplateException.class, e -> {
                        assertThat(e.line()).isEqualTo(3);
                        assertThat(e.raisedByTemplate()).isFalse();
                        assertThat(e.getMessage()).contains("can only concatenate str").contains("template line 3");
                    });
            assertThatThrownBy(() -> render("\n{{ missing.attr }}"))
                    .isInstanceOf(TemplateException.class)
                    .hasMessage("'missing' is undefined (template line 2)");
        }

        @Test
        void syntaxErrorsNameTheLine() {
            assertThatThrownBy(() -> Template.compile("ok\n{% for x in %}{% endfor %}"))
                    .isInstanceOfSatisfying(TemplateException.class, e -> assertThat(e.line()).isEqualTo(2));
            assertThatThrownBy(() -> Template.compile("{% if x %}\n\nno end"))
                    .isInstanceOf(TemplateException.class)
                    .hasMessageContaining("endif");
            assertThatThrownBy(() -> Template.compile("{{ x|no_such_filter }}"))
                    .isInstanceOf(TemplateException.class)
                    .hasMessageContaining("No filter named 'no_such_filter'");
            assertThatThrownBy(() -> Template.compile("{% include 'x' %}"))
                    .isInstanceOf(TemplateException.class)
                    .hasMessageContaining("include");
        }

        @Test
        void sandboxForbidsMutatingMethods() {
            assertThatThrownBy(() -> render("{{ xs.append(1) }}", "xs", List.of()))
                    .isInstanceOf(TemplateException.class)
                    .hasMessageContaining("unsafe");
        }

        /** Python ints are unbounded and ours 64-bit: going past that is the template's error, not ours. */
        @Test
        void integerOverflowIsATemplateError() {
            for (String expression : new String[] {"n + 1", "n * 2", "-n - 2", "-(-n - 1)", "2 ** 63", "3 ** 40"}) {
                assertThatThrownBy(() -> render("{{ " + expression + " }}", "n", Long.MAX_VALUE))
                        .as(expression)
                        .isInstanceOf(TemplateException.class)
                        .hasMessageContaining("integer overflow")
                        .hasMessageContaining("does not fit in 64 bits");
            }
            assertThat(render("{{ 2 ** 62 }} {{ -2 ** 3 }} {{ (-2) ** 63 }}")).isEqualTo(
                    "4611686018427387904 -8 -9223372036854775808");
        }

        /** A huge exponent of 0, 1 or -1 used to loop once per unit of the exponent: a render that never ended. */
        @Test
        void hugeExponentsOfSmallBasesAreImmediate() {
            assertThat(org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(2),
                    () -> render("{{ 1 ** n }} {{ 0 ** n }} {{ (-1) ** n }} {{ (-1) ** (n - 1) }}", "n",
                            Long.MAX_VALUE))).isEqualTo("1 0 -1 1");
        }

        /** The int cast of the count used to wrap to a negative number (an IllegalArgumentException). */
        @Test
        void repeatingASequenceBeyondWhatFitsIsATemplateError() {
            for (String expression : new String[] {"'ab' * n", "n * 'ab'", "[1, 2] * n"}) {
                assertThatThrownBy(() -> render("{{ " + expression + " }}", "n", 3_000_000_000L))
                        .as(expression)
                        .isInstanceOf(TemplateException.class)
                        .hasMessageContaining("cannot repeat a sequence of 2 items 3000000000 times");
            }
            assertThat(render("{{ 'ab' * 3 }}|{{ 'ab' * -1 }}|{{ [1] * 2 }}")).isEqualTo("ababab||[1, 1]");
        }
    }
}
