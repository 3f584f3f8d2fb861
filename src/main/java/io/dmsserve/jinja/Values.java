package io.dmsserve.jinja;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;

/** Runtime value types that have no direct Java counterpart. */
final class Values {

    private Values() {
    }

    /** Jinja's default Undefined: prints as "", is falsy, iterates as empty, fails on most other uses. */
    static final class Undefined {
        final String hint;

        Undefined(String hint) {
            this.hint = hint;
        }

        PyError fail() {
            return new PyError(hint);
        }

        @Override
        public String toString() {
            return "";
        }
    }

    /** Python tuple: immutable list that prints with parentheses and never equals a list. */
    static final class PyTuple extends AbstractList<Object> implements RandomAccess {
        private final Object[] items;

        PyTuple(List<?> items) {
            this.items = items.toArray();
        }

        static PyTuple of(Object... items) {
            return new PyTuple(Arrays.asList(items));
        }

        @Override
        public Object get(int index) {
            return items[index];
        }

        @Override
        public int size() {
            return items.length;
        }
    }

    /** jinja2's namespace(): the only object whose attributes a template may assign. */
    static final class Namespace {
        final Map<String, Object> attrs = new LinkedHashMap<>();
    }

    /** Anything a template can call: globals, bound methods, macros. */
    @FunctionalInterface
    interface PyCallable {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    /** A callable that knows its name (for repr and error messages). */
    record NamedCallable(String name, PyCallable fn) implements PyCallable {
        @Override
        public Object call(List<Object> args, Map<String, Object> kwargs) {
            return fn.call(args, kwargs);
        }
    }

    /** Python-level error (TypeError, ValueError, UndefinedError...); the interpreter adds the line. */
    static final class PyError extends RuntimeException {
        PyError(String message) {
            super(message, null, false, false);
        }
    }

    /** Raised by raise_exception(): carries the template's own message. */
    static final class RaisedError extends RuntimeException {
        RaisedError(String message) {
            super(message, null, false, false);
        }
    }

    /** The {@code loop} variable of a for loop. */
    static final class Loop {
        final List<Object> items;
        int index0;

        Loop(List<Object> items) {
            this.items = items;
        }

        Object attr(String name) {
            int n = items.size();
            return switch (name) {
                case "index0" -> (long) index0;
                case "index" -> (long) index0 + 1;
                case "revindex" -> (long) (n - index0);
                case "revindex0" -> (long) (n - index0 - 1);
                case "first" -> index0 == 0;
                case "last" -> index0 == n - 1;
                case "length" -> (long) n;
                case "depth" -> 1L;
                case "depth0" -> 0L;
                case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Undefined("there is no previous item");
                case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : new Undefined("there is no next item");
                case "cycle" -> new NamedCallable("cycle", (args, kw) -> {
                    if (args.isEmpty()) {
                        throw new PyError("no items for cycling given");
                    }
                    return args.get(index0 % args.size());
                });
                default -> new Undefined("'LoopContext' object has no attribute '" + name + "'");
            };
        }
    }
}
