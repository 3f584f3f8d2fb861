package io.dmsserve.structured;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One level of the matcher's stack. A frame either consumes a byte (replaced by frames, bottom to top; an
 * empty array pops it) or expands without consuming (epsilon: alternatives, each a replacement). Records of
 * nodes (compared by identity) and small ints, so stacks compare and hash cheaply. Each record writes its own
 * equals and hashCode: the generated ones are bound on first call (invokedynamic), 1-10 ms per record class
 * (55 ms for the first in a JVM) that a schema's first mask walks would otherwise pay on the engine thread.
 */
sealed interface Frame {

    Frame[] POP = new Frame[0];
    List<Frame[]> NONE = List.of();

    /** The replacement after consuming byte b (0..255), or null when b cannot come here. */
    default Frame[] consume(int b) {
        return null;
    }

    /** Replacements without consuming a byte. */
    default List<Frame[]> epsilon() {
        return NONE;
    }

    /** Whether this frame can consume bytes at all (a pure-epsilon frame is never a top of a closed stack). */
    default boolean consumes() {
        return true;
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    byte[] OPEN_OBJECT = bytes("{");
    byte[] CLOSE_OBJECT = bytes("}");
    byte[] OPEN_ARRAY = bytes("[");
    byte[] CLOSE_ARRAY = bytes("]");
    byte[] COLON = bytes(":");
    byte[] COMMA = bytes(",");
    byte[] QUOTE = bytes("\"");
    Node ANY_ARRAY = new Node.Arr(Node.Any.INSTANCE, 0, Integer.MAX_VALUE);
    Node ANY_LITERAL = new Node.Literals(List.of("true", "false", "null"));

    /** A value of a node: expands into the frames that read it. */
    record Value(Node node) implements Frame {

        @Override
        public boolean equals(Object o) {
            return o instanceof Value v && v.node == node;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(node);
        }

        @Override
        public boolean consumes() {
            return false;
        }

        @Override
        public List<Frame[]> epsilon() {
            Node n = node;
            if (n instanceof Node.Any) {
                return List.<Frame[]>of(new Frame[] {new Value(Node.FreeObj.INSTANCE)}, new Frame[] {new Value(ANY_ARRAY)},
                        new Frame[] {new Value(Node.Str.ANY)}, new Frame[] {new Value(Node.Num.NUMBER)},
                        new Frame[] {new Value(ANY_LITERAL)});
            } else if (n instanceof Node.Obj o) {
                return List.<Frame[]>of(new Frame[] {new ObjNext(o, 0, true), new Lit(OPEN_OBJECT, 0)});
            } else if (n instanceof Node.FreeObj o) {
                return List.<Frame[]>of(new Frame[] {new FreeNext(o, true), new Lit(OPEN_OBJECT, 0)});
            } else if (n instanceof Node.Arr a) {
                return List.<Frame[]>of(new Frame[] {new ArrNext(a, 0), new Lit(OPEN_ARRAY, 0)});
            } else if (n instanceof Node.Str s) {
                return List.<Frame[]>of(new Frame[] {StrBody.start(s), new Lit(QUOTE, 0)});
            } else if (n instanceof Node.Num num) {
                return List.<Frame[]>of(new Frame[] {new Num(num.integer, num.maxDigits, 0, 0)});
            } else if (n instanceof Node.Literals l) {
                List<Frame[]> out = new ArrayList<>();
                // Loops, not lambdas: a lambda's call site is bound on first use, a schema's first steps pay it.
                for (byte[] t : l.texts) {
                    out.add(new Frame[] {new Lit(t, 0)});
                }
                return out;
            } else if (n instanceof Node.AnyOf any) {
                List<Frame[]> out = new ArrayList<>();
                for (Node o : any.options) {
                    out.add(new Frame[] {new Value(o)});
                }
                return out;
            } else {
                Node.Wrapped w = (Node.Wrapped) n;
                return List.<Frame[]>of(new Frame[] {new WrapTail(w), new Lit(w.after, 0), new Value(w.value),
                        new Lit(w.before, 0)});
            }
        }
    }

    /** Exact bytes, {@code pos} of them read. */
    record Lit(byte[] text, int pos) implements Frame {

        @Override
        public Frame[] consume(int b) {
            if ((text[pos] & 0xff) != b) {
                return null;
            }
            return pos + 1 == text.length ? POP : new Frame[] {new Lit(text, pos + 1)};
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Lit l && l.text == text && l.pos == pos;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(text) * 31 + pos;
        }
    }

    /** Optional whitespace: one space, or nothing (Outlines' default, which keeps outputs short and finite). */
    record Ws() implements Frame {
        static final Ws INSTANCE = new Ws();
        static final List<Frame[]> SKIP = List.<Frame[]>of(POP);

        @Override
        public boolean equals(Object o) {
            return o instanceof Ws;
        }

        @Override
        public int hashCode() {
            return 7;
        }

        @Override
        public Frame[] consume(int b) {
            return b == ' ' ? POP : null;
        }

        @Override
        public List<Frame[]> epsilon() {
            return SKIP;
        }
    }

    /** Inside an object, before property {@code next} (declared order): another property or the end. */
    record ObjNext(Node.Obj obj, int next, boolean first) implements Frame {

        @Override
        public boolean equals(Object o) {
            return o instanceof ObjNext n && n.obj == obj && n.next == next && n.first == first;
        }

        @Override
        public int hashCode() {
            return (System.identityHashCode(obj) * 31 + next) * 2 + (first ? 1 : 0);
        }

        @Override
        public boolean consumes() {
            return false;
        }

        @Override
        public List<Frame[]> epsilon() {
            List<Frame[]> out = new ArrayList<>();
            if (!obj.requiredFrom[next]) {
                out.add(new Frame[] {new Lit(CLOSE_OBJECT, 0)});
            }
            for (int j = next; j < obj.keys.size(); j++) {
                Frame after = new ObjNext(obj, j + 1, false);
                Frame key = new Lit(obj.keyBytes[j], 0);
                out.add(first
                        ? new Frame[] {after, new Value(obj.values.get(j)), Ws.INSTANCE, new Lit(COLON, 0), key}
                        : new Frame[] {after, new Value(obj.values.get(j)), Ws.INSTANCE, new Lit(COLON, 0), key,
                            Ws.INSTANCE, new Lit(COMMA, 0)});
                if (obj.required[j]) {
                    break; // a required property cannot be skipped
                }
            }
            return out;
        }
    }

    /** Inside a free-form object: another "key": value pair or the end. */
    record FreeNext(Node.FreeObj obj, boolean first) implements Frame {

        @Override
        public boolean equals(Object o) {
            return o instanceof FreeNext n && n.obj == obj && n.first == first;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(obj) * 2 + (first ? 1 : 0);
        }

        @Override
        public boolean consumes() {
            return false;
        }

        @Override
        public List<Frame[]> epsilon() {
            Frame after = new FreeNext(obj, false);
            Frame[] pair = first
                    ? new Frame[] {after, new Value(obj.values), Ws.INSTANCE, new Lit(COLON, 0), new Value(Node.Str.ANY)}
                    : new Frame[] {after, new Value(obj.values), Ws.INSTANCE, new Lit(COLON, 0), new Value(Node.Str.ANY),
                        Ws.INSTANCE, new Lit(COMMA, 0)};
            return List.<Frame[]>of(new Frame[] {new Lit(CLOSE_OBJECT, 0)}, pair);
        }
    }

    /** Inside an array with {@code count} items read (capped where the bounds no longer care). */
    record ArrNext(Node.Arr arr, int count) implements Frame {

        @Override
        public boolean equals(Object o) {
            return o instanceof ArrNext n && n.arr == arr && n.count == count;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(arr) * 31 + count;
        }

        @Override
        public boolean consumes() {
            return false;
        }

        @Override
        public List<Frame[]> epsilon() {
            List<Frame[]> out = new ArrayList<>(2);
            if (count >= arr.minItems) {
                out.add(new Frame[] {new Lit(CLOSE_ARRAY, 0)});
            }
            if (count < arr.maxItems) {
                int cap = arr.maxItems == Integer.MAX_VALUE ? Math.max(arr.minItems, 1) : arr.maxItems;
                Frame after = new ArrNext(arr, Math.min(count + 1, cap));
                out.add(count == 0 ? new Frame[] {after, new Value(arr.items)}
                        : new Frame[] {after, new Value(arr.items), Ws.INSTANCE, new Lit(COMMA, 0)});
            }
            return out;
        }
    }

    /**
     * A string's body after its opening quote: {@code length} characters so far (capped at minLength when there
     * is no maxLength), {@code escape} 1 after a backslash, 2..5 while 1..4 hex digits of a \\u escape are due (10: after
     * a first digit D),
     * {@code utf8} continuation bytes due, the next one in [{@code low}, {@code high}]. Control characters are
     * refused; multi-byte characters must be well-formed UTF-8 (no overlong forms, surrogates or code points
     * beyond U+10FFFF), so that lengths count what a JSON parser reads.
     */
    record StrBody(Node.Str str, int length, int escape, int utf8, int low, int high) implements Frame {

        @Override
        public boolean equals(Object o) {
            return o instanceof StrBody b && b.str == str && b.length == length && b.escape == escape
                    && b.utf8 == utf8 && b.low == low && b.high == high;
        }

        @Override
        public int hashCode() {
            return ((((System.identityHashCode(str) * 31 + length) * 31 + escape) * 31 + utf8) * 31 + low) * 31 + high;
        }

        static StrBody start(Node.Str s) {
            return new StrBody(s, 0, 0, 0, 0x80, 0xBF);
        }

        private Frame[] next(int newLength, int newEscape, int newUtf8) {
            return next(newLength, newEscape, newUtf8, 0x80, 0xBF);
        }

        private Frame[] next(int newLength, int newEscape, int newUtf8, int newLow, int newHigh) {
            int capped = str.maxLength == Integer.MAX_VALUE ? Math.min(newLength, str.minLength) : newLength;
            return new Frame[] {new StrBody(str, capped, newEscape, newUtf8, newLow, newHigh)};
        }

        @Override
        public Frame[] consume(int b) {
            if (utf8 > 0) {
                return b >= low && b <= high ? next(utf8 == 1 ? length + 1 : length, 0, utf8 - 1) : null;
            }
            if (escape == 1) {
                if (b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't') {
                    return next(length + 1, 0, 0);
                }
                return b == 'u' ? next(length, 5, 0) : null;
            }
            if (escape == 10) {
                // a first digit D is followed by 0-7: no surrogates, so every escape is one character for the bounds
                return b >= '0' && b <= '7' ? next(length, 3, 0) : null;
            }
            if (escape == 5 && (b == 'd' || b == 'D')) {
                return next(length, 10, 0);
            }
            if (escape >= 2) {
                boolean hex = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
                return !hex ? null : escape == 2 ? next(length + 1, 0, 0) : next(length, escape - 1, 0);
            }
            if (b == '"') {
                return length >= str.minLength ? POP : null;
            }
            if (b < 0x20 || length >= str.maxLength) {
                return null;
            }
            if (b == '\\') {
                return next(length, 1, 0);
            }
            if (b < 0x80) {
                return next(length + 1, 0, 0);
            }
            if (b >= 0xC2 && b <= 0xDF) {
                return next(length, 0, 1);
            }
            if (b >= 0xE0 && b <= 0xEF) {
                return b == 0xE0 ? next(length, 0, 2, 0xA0, 0xBF) : b == 0xED ? next(length, 0, 2, 0x80, 0x9F)
                        : next(length, 0, 2);
            }
            if (b >= 0xF0 && b <= 0xF4) {
                return b == 0xF0 ? next(length, 0, 3, 0x90, 0xBF) : b == 0xF4 ? next(length, 0, 3, 0x80, 0x8F)
                        : next(length, 0, 3);
            }
            return null;
        }
    }

    /**
     * A JSON number: phase 0 start, 1 after '-', 2 a leading 0, 3 integer digits, 4 after '.', 5 fraction
     * digits, 6 after 'e', 7 after the exponent's sign, 8 exponent digits. At most 15 integer and 15 fraction
     * digits and 2 exponent digits, so that a number ends (and fits a double).
     */
    record Num(boolean integer, int maxDigits, int phase, int digits) implements Frame {

        @Override
        public boolean equals(Object o) {
            return o instanceof Num n && n.integer == integer && n.maxDigits == maxDigits && n.phase == phase
                    && n.digits == digits;
        }

        @Override
        public int hashCode() {
            return ((maxDigits * 31 + phase) * 31 + digits) * 2 + (integer ? 1 : 0);
        }

        static final int MAX_DIGITS = 15;
        static final int MAX_EXPONENT_DIGITS = 2;
        static final List<Frame[]> END = List.<Frame[]>of(POP);

        private static boolean digit(int b) {
            return b >= '0' && b <= '9';
        }

        private Frame[] to(int newPhase, int newDigits) {
            return new Frame[] {new Num(integer, maxDigits, newPhase, newDigits)};
        }

        @Override
        public Frame[] consume(int b) {
            switch (phase) {
                case 0:
                    if (b == '-') {
                        return to(1, 0);
                    }
                    // fall through: a digit
                case 1:
                    return b == '0' ? to(2, 1) : b >= '1' && b <= '9' ? to(3, 1) : null;
                case 2:
                case 3:
                    if (phase == 3 && digit(b)) {
                        return digits < maxDigits ? to(3, digits + 1) : null;
                    }
                    if (integer) {
                        return null;
                    }
                    return b == '.' ? to(4, 0) : b == 'e' || b == 'E' ? to(6, 0) : null;
                case 4:
                    return digit(b) ? to(5, 1) : null;
                case 5:
                    if (digit(b)) {
                        return digits < MAX_DIGITS ? to(5, digits + 1) : null;
                    }
                    return b == 'e' || b == 'E' ? to(6, 0) : null;
                case 6:
                    if (b == '+' || b == '-') {
                        return to(7, 0);
                    }
                    return digit(b) ? to(8, 1) : null;
                case 7:
                    return digit(b) ? to(8, 1) : null;
                default:
                    return digit(b) && digits < MAX_EXPONENT_DIGITS ? to(8, digits + 1) : null;
            }
        }

        @Override
        public List<Frame[]> epsilon() {
            return phase == 2 || phase == 3 || phase == 5 || phase == 8 ? END : NONE;
        }
    }

    /** After a wrapped value: the end, or (when it repeats) a separator and the next one. */
    record WrapTail(Node.Wrapped wrapped) implements Frame {

        @Override
        public boolean equals(Object o) {
            return o instanceof WrapTail w && w.wrapped == wrapped;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(wrapped);
        }

        @Override
        public boolean consumes() {
            return false;
        }

        @Override
        public List<Frame[]> epsilon() {
            if (wrapped.separator == null) {
                return List.<Frame[]>of(POP);
            }
            return List.<Frame[]>of(POP, new Frame[] {this, new Lit(wrapped.after, 0), new Value(wrapped.value),
                    new Lit(wrapped.separatorAndBefore, 0)});
        }
    }
}
