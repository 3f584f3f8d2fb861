package io.dmsserve.jinja;

import io.dmsserve.jinja.Interpreter.Scope;
import io.dmsserve.jinja.Node.Stmt;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * A compiled Jinja template, rendered with the semantics of Python jinja2 3.1 in the environment
 * transformers uses for chat templates: {@code ImmutableSandboxedEnvironment(trim_blocks=True,
 * lstrip_blocks=True)} with the loopcontrols extension ({@code break}/{@code continue}), the
 * {@code generation} block, transformers' {@code tojson} (json.dumps, ensure_ascii=False),
 * {@code raise_exception} and {@code strftime_now}.
 *
 * <p>Supported: text, {@code {{ }}}, comments, whitespace control ({@code -}/{@code +}), if/elif/else,
 * for (tuple targets, inline if filter, else, loop.*), set (names, tuples, {@code ns.attr}, block
 * set), macro, filter blocks, raw; expressions with Python operators, literals, slicing with steps,
 * str/list/dict methods, the common jinja2 filters and tests. Not supported: include, import,
 * extends, block, call, recursive loops, *args/**kwargs. Unknown filters and tests fail at compile
 * time, like jinja2. Compiled templates are immutable and thread-safe.
 */
public final class Template {

    private final List<Stmt> body;

    private Template(List<Stmt> body) {
        this.body = body;
    }

    /** Compiles with the chat-template environment (trim_blocks and lstrip_blocks on). */
    public static Template compile(String source) {
        return compile(source, true, true);
    }

    public static Template compile(String source, boolean trimBlocks, boolean lstripBlocks) {
        return new Template(Parser.parse(Lexer.tokenize(source, trimBlocks, lstripBlocks)));
    }

    public String render(Map<String, ?> context) {
        return render(context, Clock.systemDefaultZone());
    }

    /**
     * Renders with the given variables (Java values: String, Boolean, numbers, null, List/Collection,
     * Map, arrays). The clock is what strftime_now reads.
     *
     * @throws TemplateException on any render error, or when the template calls raise_exception
     */
    public String render(Map<String, ?> context, Clock clock) {
        Scope globals = new Scope(null);
        globals.vars.putAll(Builtins.globals(clock));
        Scope root = new Scope(globals);
        context.forEach((k, v) -> root.vars.put(k, Py.fromJava(v)));
        StringBuilder out = new StringBuilder();
        new Interpreter().render(body, new Scope(root), out);
        return out.toString();
    }
}
