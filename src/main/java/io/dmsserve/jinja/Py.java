package io.dmsserve.jinja;

import io.dmsserve.jinja.Values.Loop;
import io.dmsserve.jinja.Values.NamedCallable;
import io.dmsserve.jinja.Values.Namespace;
import io.dmsserve.jinja.Values.PyCallable;
import io.dmsserve.jinja.Values.PyError;
import io.dmsserve.jinja.Values.PyTuple;
import io.dmsserve.jinja.Values.Undefined;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Python semantics for template values. Values are: null (None), Boolean, Long (int), Double (float),
 * String, List (list), {@link PyTuple}, Map (dict, insertion ordered), {@link Undefined},
 * {@link Namespace}, {@link Loop}, {@link PyCallable}. Strings are indexed by code point, as in Python.
 */
final class Py {

    private Py() {
    }

    // ---- conversion of caller-supplied values ----

    /** Deep-converts Java values given by callers into template values (Integer to Long, Collection to List...). */
    static Object fromJava(Object v) {
        if (v == null || v instanceof String || v instanceof Boolean || v instanceof Long || v instanceof Double
                || v instanceof Undefined || v instanceof PyCallable || v instanceof Namespace) {
            return v;
        }
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof Float f) {
            return f.doubleValue();
        }
        if (v instanceof java.math.BigInteger b) {
            if (b.bitLength() > 63) {
                // Python ints are unbounded; ours are longs. Say so instead of failing obscurely.
                throw new TemplateException("integer " + b + " is out of the supported range (64-bit)", 0);
            }
            return b.longValue();
        }
        if (v instanceof BigDecimal b) {
            return b.doubleValue();
        }
        if (v instanceof Character c) {
            return c.toString();
        }
        if (v instanceof Enum<?> e) {
            return e.name();
        }
        if (v instanceof PyTuple t) {
            List<Object> items = new ArrayList<>(t.size());
            for (Object o : t) {
                items.add(fromJava(o));
            }
            return new PyTuple(items);
        }
        if (v instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, val) -> out.put(fromJava(k), fromJava(val)));
            return out;
        }
        if (v instanceof Collection<?> c) {
            List<Object> out = new ArrayList<>(c.size());
            for (Object o : c) {
                out.add(fromJava(o));
            }
            return out;
        }
        if (v instanceof Object[] a) {
            return fromJava(java.util.Arrays.asList(a));
        }
        if (v instanceof int[] a) {
            List<Object> out = new ArrayList<>(a.length);
            for (int x : a) {
                out.add((long) x);
            }
            return out;
        }
        if (v instanceof long[] a) {
            List<Object> out = new ArrayList<>(a.length);
            for (long x : a) {
                out.add(x);
            }
            return out;
        }
        throw new IllegalArgumentException("unsupported template value type: " + v.getClass().getName());
    }

    // ---- type tests ----

    static boolean isInt(Object o) {
        return o instanceof Long || o instanceof Integer || o instanceof Short || o instanceof Byte;
    }

    /** int, float or bool (Python's numbers.Number). */
    static boolean isNumber(Object o) {
        return isInt(o) || o instanceof Double || o instanceof Float || o instanceof Boolean;
    }

    static boolean isIntLike(Object o) {
        return isInt(o) || o instanceof Boolean;
    }

    static long toLong(Object o) {
        if (o instanceof Boolean b) {
            return b ? 1 : 0;
        }
        return ((Number) o).longValue();
    }

    static double toDouble(Object o) {
        if (o instanceof Boolean b) {
            return b ? 1 : 0;
        }
        return ((Number) o).doubleValue();
    }

    static String typeName(Object o) {
        if (o == null) {
            return "NoneType";
        } else if (o instanceof Boolean) {
            return "bool";
        } else if (isInt(o)) {
            return "int";
        } else if (o instanceof Double || o instanceof Float) {
            return "float";
        } else if (o instanceof String) {
            return "str";
        } else if (o instanceof PyTuple) {
            return "tuple";
        } else if (o instanceof List) {
            return "list";
        } else if (o instanceof Map) {
            return "dict";
        } else if (o instanceof Undefined) {
            return "Undefined";
        } else if (o instanceof Namespace) {
            return "Namespace";
        } else if (o instanceof Loop) {
            return "LoopContext";
        } else if (o instanceof PyCallable) {
            return "function";
        }
        return o.getClass().getSimpleName();
    }

    // ---- truthiness, str, repr ----

    static boolean truthy(Object o) {
        if (o == null || o instanceof Undefined) {
            return false;
        } else if (o instanceof Boolean b) {
            return b;
        } else if (isInt(o)) {
            return toLong(o) != 0;
        } else if (o instanceof Double d) {
            return d != 0.0;
        } else if (o instanceof String s) {
            return !s.isEmpty();
        } else if (o instanceof Collection<?> c) {
            return !c.isEmpty();
        } else if (o instanceof Map<?, ?> m) {
            return !m.isEmpty();
        }
        return true;
    }

    static String str(Object o) {
        if (o instanceof String s) {
            return s;
        } else if (o instanceof Undefined) {
            return "";
        }
        return repr(o);
    }

    static String repr(Object o) {
        if (o == null) {
            return "None";
        } else if (o instanceof Boolean b) {
            return b ? "True" : "False";
        } else if (isInt(o)) {
            return Long.toString(toLong(o));
        } else if (o instanceof Double || o instanceof Float) {
            return floatRepr(((Number) o).doubleValue());
        } else if (o instanceof String s) {
            return strRepr(s);
        } else if (o instanceof Undefined) {
            return "";
        } else if (o instanceof PyTuple t) {
            StringBuilder b = new StringBuilder("(");
            for (int i = 0; i < t.size(); i++) {
                b.append(i > 0 ? ", " : "").append(repr(t.get(i)));
            }
            return b.append(t.size() == 1 ? ",)" : ")").toString();
        } else if (o instanceof List<?> l) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                b.append(i > 0 ? ", " : "").append(repr(l.get(i)));
            }
            return b.append(']').toString();
        } else if (o instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                b.append(first ? "" : ", ").append(repr(e.getKey())).append(": ").append(repr(e.getValue()));
                first = false;
            }
            return b.append('}').toString();
        } else if (o instanceof Namespace ns) {
            return "<Namespace " + repr(ns.attrs) + ">";
        } else if (o instanceof Loop l) {
            return "<LoopContext " + (l.index0 + 1) + "/" + l.items.size() + ">";
        } else if (o instanceof NamedCallable c) {
            return "<function " + c.name() + ">";
        } else if (o instanceof PyCallable) {
            return "<function>";
        }
        return o.toString();
    }

    /** Python's repr(float): shortest round-trip digits, exponent form outside [1e-4, 1e16). */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        } else if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        } else if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int decpt = digits.length() - bd.scale();
        StringBuilder b = new StringBuilder(d < 0 ? "-" : "");
        if (decpt < -3 || decpt > 16) {
            b.append(digits.charAt(0));
            if (digits.length() > 1) {
                b.append('.').append(digits, 1, digits.length());
            }
            int exp = decpt - 1;
            b.append('e').append(exp < 0 ? '-' : '+');
            String e = Integer.toString(Math.abs(exp));
            b.append(e.length() < 2 ? "0" + e : e);
        } else if (decpt <= 0) {
            b.append("0.").append("0".repeat(-decpt)).append(digits);
        } else if (decpt >= digits.length()) {
            b.append(digits).append("0".repeat(decpt - digits.length())).append(".0");
        } else {
            b.append(digits, 0, decpt).append('.').append(digits, decpt, digits.length());
        }
        return b.toString();
    }

    static String strRepr(String s) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder b = new StringBuilder().append(q);
        s.codePoints().forEach(cp -> {
            if (cp == q || cp == '\\') {
                b.append('\\').appendCodePoint(cp);
            } else if (cp == '\n') {
                b.append("\\n");
            } else if (cp == '\r') {
                b.append("\\r");
            } else if (cp == '\t') {
                b.append("\\t");
            } else if (cp < 0x20 || cp == 0x7f) {
                b.append(String.format("\\x%02x", cp));
            } else if (cp > 0x7f && !isPrintable(cp)) {
                b.append(cp <= 0xff ? String.format("\\x%02x", cp)
                        : cp <= 0xffff ? String.format("\\u%04x", cp) : String.format("\\U%08x", cp));
            } else {
                b.appendCodePoint(cp);
            }
        });
        return b.append(q).toString();
    }

    private static boolean isPrintable(int cp) {
        int t = Character.getType(cp);
        return !(t == Character.CONTROL || t == Character.FORMAT || t == Character.SURROGATE
                || t == Character.PRIVATE_USE || t == Character.UNASSIGNED || t == Character.LINE_SEPARATOR
                || t == Character.PARAGRAPH_SEPARATOR || (t == Character.SPACE_SEPARATOR && cp != ' '));
    }

    // ---- whitespace (Python str.isspace) ----

    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
    }

    static String rstripWhitespace(String s) {
        int e = s.length();
        while (e > 0 && isSpace(s.charAt(e - 1))) {
            e--;
        }
        return s.substring(0, e);
    }

    // ---- equality and ordering ----

    static boolean eq(Object a, Object b) {
        if (a == b) {
            return true;
        }
        if (a == null || b == null) {
            return false;
        }
        if (a instanceof Undefined || b instanceof Undefined) {
            return a instanceof Undefined && b instanceof Undefined;
        }
        if (isNumber(a) && isNumber(b)) {
            if (isIntLike(a) && isIntLike(b)) {
                return toLong(a) == toLong(b);
            }
            return toDouble(a) == toDouble(b);
        }
        if (a instanceof String || b instanceof String) {
            return a.equals(b);
        }
        if (a instanceof PyTuple != b instanceof PyTuple) {
            return false;
        }
        if (a instanceof List<?> la && b instanceof List<?> lb) {
            if (la.size() != lb.size()) {
                return false;
            }
            for (int i = 0; i < la.size(); i++) {
                if (!eq(la.get(i), lb.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            if (ma.size() != mb.size()) {
                return false;
            }
            for (Map.Entry<?, ?> e : ma.entrySet()) {
                Object k = findKey(mb, e.getKey());
                if (k == MISSING || !eq(e.getValue(), mb.get(k))) {
                    return false;
                }
            }
            return true;
        }
        return Objects.equals(a, b);
    }

    static final Object MISSING = new Object();

    /** The key of m equal (Python-wise) to key, or MISSING. */
    static Object findKey(Map<?, ?> m, Object key) {
        if (m.containsKey(key)) {
            return key;
        }
        for (Object k : m.keySet()) {
            if (eq(k, key)) {
                return k;
            }
        }
        return MISSING;
    }

    static int compare(Object a, Object b, String op) {
        if (a instanceof Undefined u) {
            throw u.fail();
        }
        if (b instanceof Undefined u) {
            throw u.fail();
        }
        if (isNumber(a) && isNumber(b)) {
            if (isIntLike(a) && isIntLike(b)) {
                return Long.compare(toLong(a), toLong(b));
            }
            return Double.compare(toDouble(a), toDouble(b));
        }
        if (a instanceof String sa && b instanceof String sb) {
            return compareCodePoints(sa, sb);
        }
        if (a instanceof List<?> la && b instanceof List<?> lb && (a instanceof PyTuple == b instanceof PyTuple)) {
            for (int i = 0; i < Math.min(la.size(), lb.size()); i++) {
                if (!eq(la.get(i), lb.get(i))) {
                    return compare(la.get(i), lb.get(i), op);
                }
            }
            return Integer.compare(la.size(), lb.size());
        }
        throw new PyError("'" + op + "' not supported between instances of '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    // ---- arithmetic ----

    static Object binary(String op, Object a, Object b) {
        if (op.equals("~")) {
            return str(a) + str(b);
        }
        if (a instanceof Undefined u) {
            throw u.fail();
        }
        if (b instanceof Undefined u) {
            throw u.fail();
        }
        if (isNumber(a) && isNumber(b)) {
            return numeric(op, a, b);
        }
        switch (op) {
            case "+" -> {
                if (a instanceof String sa && b instanceof String sb) {
                    return sa + sb;
                }
                if (a instanceof List<?> la && b instanceof List<?> lb && (a instanceof PyTuple == b instanceof PyTuple)) {
                    List<Object> out = new ArrayList<>(la);
                    out.addAll(lb);
                    return a instanceof PyTuple ? new PyTuple(out) : out;
                }
                if (a instanceof String) {
                    throw new PyError("can only concatenate str (not \"" + typeName(b) + "\") to str");
                }
                if (a instanceof List && !(a instanceof PyTuple)) {
                    throw new PyError("can only concatenate list (not \"" + typeName(b) + "\") to list");
                }
            }
            case "*" -> {
                if (isIntLike(b) && (a instanceof String || a instanceof List)) {
                    return repeat(a, toLong(b));
                }
                if (isIntLike(a) && (b instanceof String || b instanceof List)) {
                    return repeat(b, toLong(a));
                }
            }
            case "%" -> {
                if (a instanceof String s) {
                    return percentFormat(s, b);
                }
            }
            default -> { }
        }
        throw new PyError("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '"
                + typeName(b) + "'");
    }

    /** Longest sequence {@code *} may build: Python would raise MemoryError or OverflowError far beyond it. */
    static final int MAX_REPEAT = 1 << 24;

    private static Object repeat(Object seq, long n) {
        int length = seq instanceof String s ? s.length() : ((List<?>) seq).size();
        if (n > 0 && length > 0 && n > MAX_REPEAT / length) {
            throw new PyError("cannot repeat a sequence of " + length + " items " + n + " times (at most "
                    + MAX_REPEAT + " items)");
        }
        if (seq instanceof String s) {
            return n <= 0 ? "" : s.repeat((int) n);
        }
        List<?> l = (List<?>) seq;
        List<Object> out = new ArrayList<>();
        for (long i = 0; i < n; i++) {
            out.addAll(l);
        }
        return seq instanceof PyTuple ? new PyTuple(out) : out;
    }

    private static Object numeric(String op, Object a, Object b) {
        boolean ints = isIntLike(a) && isIntLike(b);
        if (ints) {
            long x = toLong(a);
            long y = toLong(b);
            switch (op) {
                case "+":
                case "-":
                case "*":
                    try {
                        return op.equals("+") ? Math.addExact(x, y)
                                : op.equals("-") ? Math.subtractExact(x, y) : Math.multiplyExact(x, y);
                    } catch (ArithmeticException e) {
                        throw overflow(x + " " + op + " " + y);
                    }
                case "//":
                    if (y == 0) {
                        throw new PyError("integer division or modulo by zero");
                    }
                    return Math.floorDiv(x, y);
                case "%":
                    if (y == 0) {
                        throw new PyError("integer division or modulo by zero");
                    }
                    return Math.floorMod(x, y);
                case "**":
                    if (y >= 0) {
                        return power(x, y);
                    }
                    break;
                default:
                    break;
            }
        }
        double x = toDouble(a);
        double y = toDouble(b);
        switch (op) {
            case "+":
                return x + y;
            case "-":
                return x - y;
            case "*":
                return x * y;
            case "/":
                if (y == 0) {
                    throw new PyError("division by zero");
                }
                return x / y;
            case "//":
                if (y == 0) {
                    throw new PyError("float floor division by zero");
                }
                return Math.floor(x / y);
            case "%":
                if (y == 0) {
                    throw new PyError("float modulo");
                }
                double m = x % y;
                return (m != 0 && (m < 0) != (y < 0)) ? m + y : m;
            case "**":
                return Math.pow(x, y);
            default:
                throw new PyError("unsupported operator " + op);
        }
    }

    /** x ** y for y >= 0 by squaring: O(log y) steps, so a huge exponent of 0, 1 or -1 cannot hang a render. */
    private static long power(long x, long y) {
        long result = 1;
        long base = x;
        long e = y;
        try {
            while (e > 0) {
                if ((e & 1) != 0) {
                    result = Math.multiplyExact(result, base);
                }
                e >>= 1;
                if (e > 0) {
                    base = Math.multiplyExact(base, base);
                }
            }
        } catch (ArithmeticException overflow) {
            throw overflow(x + " ** " + y);
        }
        return result;
    }

    /** Python ints are unbounded, ours are 64-bit: a result beyond that is the template's error, said plainly. */
    private static PyError overflow(String expression) {
        return new PyError("integer overflow: " + expression + " does not fit in 64 bits");
    }

    static Object negate(Object a) {
        if (a instanceof Undefined u) {
            throw u.fail();
        }
        if (isIntLike(a)) {
            long x = toLong(a);
            if (x == Long.MIN_VALUE) {
                throw overflow("-(" + x + ")");
            }
            return -x;
        }
        if (a instanceof Double d) {
            return -d;
        }
        throw new PyError("bad operand type for unary -: '" + typeName(a) + "'");
    }

    static Object plus(Object a) {
        if (a instanceof Undefined u) {
            throw u.fail();
        }
        if (isIntLike(a)) {
            return toLong(a);
        }
        if (a instanceof Double) {
            return a;
        }
        throw new PyError("bad operand type for unary +: '" + typeName(a) + "'");
    }

    /** printf-style {@code str % args} for %s %r %d %i %f %x %% (flags/width/precision supported). */
    static String percentFormat(String fmt, Object args) {
        List<?> values = args instanceof PyTuple t ? t : java.util.Collections.singletonList(args);
        StringBuilder b = new StringBuilder();
        int vi = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%') {
                b.append(c);
                continue;
            }
            int j = i + 1;
            while (j < fmt.length() && "-+ #0123456789.".indexOf(fmt.charAt(j)) >= 0) {
                j++;
            }
            if (j >= fmt.length()) {
                throw new PyError("incomplete format");
            }
            String spec = fmt.substring(i + 1, j);
            char conv = fmt.charAt(j);
            i = j;
            if (conv == '%') {
                b.append('%');
                continue;
            }
            if (vi >= values.size()) {
                throw new PyError("not enough arguments for format string");
            }
            Object v = values.get(vi++);
            String javaSpec = "%" + spec.replace("#", "");
            b.append(switch (conv) {
                case 's' -> String.format(javaSpec + "s", str(v));
                case 'r' -> String.format(javaSpec + "s", repr(v));
                case 'd', 'i' -> String.format(javaSpec + "d", isIntLike(v) ? toLong(v) : (long) toDouble(v));
                case 'f', 'F', 'e', 'E', 'g', 'G' -> String.format(javaSpec + conv, toDouble(v));
                case 'x', 'X', 'o' -> String.format(javaSpec + conv, toLong(v));
                default -> throw new PyError("unsupported format character '" + conv + "'");
            });
        }
        if (vi < values.size() && args instanceof PyTuple) {
            throw new PyError("not all arguments converted during string formatting");
        }
        return b.toString();
    }

    // ---- containers ----

    static boolean contains(Object container, Object item) {
        if (container instanceof String s) {
            if (item instanceof String sub) {
                return s.contains(sub);
            }
            if (item instanceof Undefined u) {
                throw u.fail();
            }
            throw new PyError("'in <string>' requires string as left operand, not " + typeName(item));
        }
        if (container instanceof Map<?, ?> m) {
            return findKey(m, item) != MISSING;
        }
        if (container instanceof List<?> l) {
            for (Object o : l) {
                if (eq(o, item)) {
                    return true;
                }
            }
            return false;
        }
        if (container instanceof Undefined) {
            return false;
        }
        throw new PyError("argument of type '" + typeName(container) + "' is not iterable");
    }

    static List<Object> iterate(Object o) {
        if (o instanceof List<?> l) {
            return new ArrayList<>(l);
        } else if (o instanceof Map<?, ?> m) {
            return new ArrayList<>(m.keySet());
        } else if (o instanceof String s) {
            List<Object> out = new ArrayList<>();
            s.codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
            return out;
        } else if (o instanceof Undefined) {
            return new ArrayList<>();
        } else if (o instanceof Collection<?> c) {
            return new ArrayList<>(c);
        }
        throw new PyError("'" + typeName(o) + "' object is not iterable");
    }

    static long len(Object o) {
        if (o instanceof String s) {
            return s.codePointCount(0, s.length());
        } else if (o instanceof Collection<?> c) {
            return c.size();
        } else if (o instanceof Map<?, ?> m) {
            return m.size();
        } else if (o instanceof Undefined) {
            return 0;
        } else if (o instanceof Namespace ns) {
            return ns.attrs.size();
        }
        throw new PyError("object of type '" + typeName(o) + "' has no len()");
    }

    // ---- attribute and item access (jinja2 sandbox semantics) ----

    static Object getattr(Object obj, String name) {
        if (obj instanceof Undefined u) {
            throw u.fail();
        }
        if (name.startsWith("_")) {
            return new Undefined("access to attribute '" + name + "' of '" + typeName(obj) + "' object is unsafe");
        }
        if (obj instanceof Namespace ns) {
            return ns.attrs.containsKey(name) ? ns.attrs.get(name) : noAttr(obj, name);
        }
        if (obj instanceof Loop loop) {
            return loop.attr(name);
        }
        Object method = Methods.bind(obj, name);
        if (method != null) {
            return method;
        }
        if (obj instanceof Map<?, ?> m) {
            Object k = findKey(m, name);
            if (k != MISSING) {
                return m.get(k);
            }
        }
        return noAttr(obj, name);
    }

    private static Undefined noAttr(Object obj, String name) {
        return new Undefined("'" + typeName(obj) + " object' has no attribute '" + name + "'");
    }

    static Object getitem(Object obj, Object key) {
        if (obj instanceof Undefined u) {
            throw u.fail();
        }
        if (key instanceof Slice s) {
            return slice(obj, s);
        }
        if (obj instanceof Map<?, ?> m) {
            Object k = findKey(m, key);
            if (k != MISSING) {
                return m.get(k);
            }
        } else if ((obj instanceof List || obj instanceof String) && isIntLike(key)) {
            long n = len(obj);
            long idx = toLong(key);
            if (idx < 0) {
                idx += n;
            }
            if (idx >= 0 && idx < n) {
                if (obj instanceof List<?> l) {
                    return l.get((int) idx);
                }
                String s = (String) obj;
                int off = s.offsetByCodePoints(0, (int) idx);
                return new String(Character.toChars(s.codePointAt(off)));
            }
            return new Undefined("'" + typeName(obj) + " object' has no element " + key);
        }
        if (key instanceof String name) {
            return getattr(obj, name);
        }
        return new Undefined("'" + typeName(obj) + " object' has no element " + repr(key));
    }

    /** Evaluated slice bounds; null parts are absent. */
    record Slice(Object start, Object stop, Object step) { }

    static Object slice(Object obj, Slice s) {
        long n;
        List<?> list = null;
        int[] cps = null;
        if (obj instanceof List<?> l) {
            list = l;
            n = l.size();
        } else if (obj instanceof String str) {
            cps = str.codePoints().toArray();
            n = cps.length;
        } else {
            throw new PyError("'" + typeName(obj) + "' object is not subscriptable");
        }
        long step = s.step() == null ? 1 : sliceIndex(s.step());
        if (step == 0) {
            throw new PyError("slice step cannot be zero");
        }
        long start;
        long stop;
        if (step > 0) {
            start = s.start() == null ? 0 : clampIndex(sliceIndex(s.start()), n, 0, n);
            stop = s.stop() == null ? n : clampIndex(sliceIndex(s.stop()), n, 0, n);
        } else {
            start = s.start() == null ? n - 1 : clampIndex(sliceIndex(s.start()), n, -1, n - 1);
            stop = s.stop() == null ? -1 : clampIndex(sliceIndex(s.stop()), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        StringBuilder sb = new StringBuilder();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (list != null) {
                out.add(list.get((int) i));
            } else {
                sb.appendCodePoint(cps[(int) i]);
            }
        }
        if (list == null) {
            return sb.toString();
        }
        return obj instanceof PyTuple ? new PyTuple(out) : out;
    }

    private static long sliceIndex(Object o) {
        if (!isIntLike(o)) {
            throw new PyError("slice indices must be integers or None");
        }
        return toLong(o);
    }

    private static long clampIndex(long i, long n, long lo, long hi) {
        if (i < 0) {
            i += n;
        }
        return Math.max(lo, Math.min(hi, i));
    }

    static Iterator<Object> iter(Object o) {
        return iterate(o).iterator();
    }
}
