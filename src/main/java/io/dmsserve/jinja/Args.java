package io.dmsserve.jinja;

import io.dmsserve.jinja.Values.PyError;
import io.dmsserve.jinja.Values.Undefined;
import java.util.List;
import java.util.Map;

/** Python-style argument binding for built-in functions, methods, filters and tests. */
final class Args {

    private final String fn;
    private final List<Object> args;
    private final Map<String, Object> kwargs;
    private final String[] names;

    /** names: parameter names in positional order (after the filtered value / self). */
    Args(String fn, List<Object> args, Map<String, Object> kwargs, String... names) {
        this.fn = fn;
        this.args = args;
        this.kwargs = kwargs;
        this.names = names;
        if (args.size() > names.length) {
            throw new PyError(fn + "() takes at most " + names.length + " argument(s) (" + args.size() + " given)");
        }
        for (String k : kwargs.keySet()) {
            if (!List.of(names).contains(k)) {
                throw new PyError(fn + "() got an unexpected keyword argument '" + k + "'");
            }
        }
    }

    boolean has(int i) {
        return i < args.size() || kwargs.containsKey(names[i]);
    }

    Object get(int i, Object dflt) {
        if (i < args.size()) {
            return args.get(i);
        }
        return kwargs.containsKey(names[i]) ? kwargs.get(names[i]) : dflt;
    }

    Object required(int i) {
        if (!has(i)) {
            throw new PyError(fn + "() missing required argument '" + names[i] + "'");
        }
        return get(i, null);
    }

    String str(int i, String dflt) {
        Object v = get(i, dflt);
        if (v == null && dflt == null) {
            return null;
        }
        if (v instanceof Undefined u) {
            throw u.fail();
        }
        if (!(v instanceof String s)) {
            throw new PyError(fn + "() argument '" + names[i] + "' must be str, not " + Py.typeName(v));
        }
        return s;
    }

    long integer(int i, long dflt) {
        Object v = get(i, dflt);
        if (!Py.isIntLike(v)) {
            throw new PyError(fn + "() argument '" + names[i] + "' must be int, not " + Py.typeName(v));
        }
        return Py.toLong(v);
    }

    boolean bool(int i, boolean dflt) {
        return Py.truthy(get(i, dflt));
    }
}
