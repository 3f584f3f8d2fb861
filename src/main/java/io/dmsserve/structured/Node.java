package io.dmsserve.structured;

import java.util.List;

/**
 * A compiled JSON schema: what one JSON value may be. Nodes compare by identity (a compiled schema is a DAG
 * shared by every state of its matcher), so matcher states hash and compare cheaply.
 */
sealed interface Node {

    /** Any JSON value (a schema of {@code true} or {}, and the values of a free-form object). */
    final class Any implements Node {
        static final Any INSTANCE = new Any();
    }

    /** An object with the declared properties in declared order; each optional one may be left out. */
    final class Obj implements Node {
        final List<String> keys;       // JSON-encoded, quotes included
        final byte[][] keyBytes;
        final List<Node> values;
        final boolean[] required;
        /** requiredFrom[i]: whether any property at index >= i is required. */
        final boolean[] requiredFrom;

        Obj(List<String> keys, List<Node> values, boolean[] required) {
            this.keys = keys;
            this.keyBytes = keys.stream().map(k -> k.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                    .toArray(byte[][]::new);
            this.values = values;
            this.required = required;
            this.requiredFrom = new boolean[keys.size() + 1];
            for (int i = keys.size() - 1; i >= 0; i--) {
                requiredFrom[i] = required[i] || requiredFrom[i + 1];
            }
        }
    }

    /** An object with any string keys, each value matching {@code values}. */
    final class FreeObj implements Node {
        static final FreeObj INSTANCE = new FreeObj(Any.INSTANCE);
        final Node values;

        FreeObj(Node values) {
            this.values = values;
        }
    }

    final class Arr implements Node {
        final Node items;
        final int minItems;
        final int maxItems; // Integer.MAX_VALUE: unbounded

        Arr(Node items, int minItems, int maxItems) {
            this.items = items;
            this.minItems = minItems;
            this.maxItems = maxItems;
        }
    }

    final class Str implements Node {
        static final Str ANY = new Str(0, Integer.MAX_VALUE);
        final int minLength;
        final int maxLength;

        Str(int minLength, int maxLength) {
            this.minLength = minLength;
            this.maxLength = maxLength;
        }
    }

    /** A number; {@code maxDigits} bounds the integer part (15: exact in a double; 9 for int32, 18 for int64). */
    final class Num implements Node {
        static final Num INTEGER = new Num(true, 15);
        static final Num INT32 = new Num(true, 9);
        static final Num INT64 = new Num(true, 18);
        static final Num NUMBER = new Num(false, 15);
        final boolean integer;
        final int maxDigits;

        private Num(boolean integer, int maxDigits) {
            this.integer = integer;
            this.maxDigits = maxDigits;
        }
    }

    /** One of a few exact JSON texts (enum, const, true, false, null), compact. */
    final class Literals implements Node {
        static final Literals BOOLEAN = new Literals(List.of("true", "false"));
        static final Literals NULL = new Literals(List.of("null"));
        final List<byte[]> texts;

        Literals(List<String> texts) {
            this.texts = texts.stream().map(t -> t.getBytes(java.nio.charset.StandardCharsets.UTF_8)).toList();
        }
    }

    final class AnyOf implements Node {
        final List<Node> options;

        AnyOf(List<Node> options) {
            this.options = options;
        }
    }

    /** Fixed text, then a value, then fixed text, repeated when {@code repeat} (tool-call blocks). */
    final class Wrapped implements Node {
        final byte[] before;
        final Node value;
        final byte[] after;
        final byte[] separator; // null: once; else what comes between repetitions
        final byte[] separatorAndBefore;

        Wrapped(String before, Node value, String after, String separator) {
            this.before = before.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            this.value = value;
            this.after = after.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            this.separator = separator == null ? null : separator.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            this.separatorAndBefore = separator == null ? null
                    : (separator + before).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
    }
}
