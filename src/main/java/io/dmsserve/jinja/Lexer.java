package io.dmsserve.jinja;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits template source into tokens exactly as jinja2 3.1's lexer does for the default delimiters:
 * one trailing newline dropped, {@code -} strips all whitespace on that side, {@code +} keeps it,
 * trim_blocks removes the first newline after a block or comment tag, lstrip_blocks removes spaces
 * and tabs from the start of a line up to a block or comment tag (only when the tag starts the line).
 */
final class Lexer {

    enum Kind { DATA, BLOCK_BEGIN, BLOCK_END, VAR_BEGIN, VAR_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Token(Kind kind, String text, Object value, int line) {
        boolean is(Kind k, String t) {
            return kind == k && text.equals(t);
        }

        boolean isName(String n) {
            return kind == Kind.NAME && text.equals(n);
        }

        @Override
        public String toString() {
            return kind == Kind.EOF ? "end of template" : kind == Kind.DATA ? "template data" : "'" + text + "'";
        }
    }

    private static final Pattern FLOAT = Pattern.compile(
            "(?<!\\.)(\\d+_)*\\d+((\\.(\\d+_)*\\d+)?[eE][+\\-]?(\\d+_)*\\d+|\\.(\\d+_)*\\d+)");
    private static final Pattern INT = Pattern.compile(
            "0[bB](_?[01])+|0[oO](_?[0-7])+|0[xX](_?[0-9a-fA-F])+|[1-9](_?\\d)*|0(_?0)*");
    private static final Pattern NAME = Pattern.compile("[\\p{L}_][\\p{L}\\p{N}_]*");
    private static final Pattern STRING = Pattern.compile(
            "'([^'\\\\]*(?:\\\\.[^'\\\\]*)*)'|\"([^\"\\\\]*(?:\\\\.[^\"\\\\]*)*)\"", Pattern.DOTALL);
    private static final Pattern RAW_BEGIN = Pattern.compile("\\{%([-+]?)\\s*raw\\s*(-%\\}|%\\})");
    private static final Pattern END_RAW = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*(\\+%\\}|-%\\}|%\\})");
    private static final String[] OPERATORS = {
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"
    };

    private final String src;
    private final boolean trimBlocks;
    private final boolean lstripBlocks;
    private final int[] lineStarts;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private boolean lineStarting = true;

    private Lexer(String source, boolean trimBlocks, boolean lstripBlocks) {
        this.src = normalizeNewlines(source);
        this.trimBlocks = trimBlocks;
        this.lstripBlocks = lstripBlocks;
        List<Integer> starts = new ArrayList<>();
        starts.add(0);
        for (int i = 0; i < src.length(); i++) {
            if (src.charAt(i) == '\n') {
                starts.add(i + 1);
            }
        }
        lineStarts = starts.stream().mapToInt(Integer::intValue).toArray();
    }

    static List<Token> tokenize(String source, boolean trimBlocks, boolean lstripBlocks) {
        Lexer lx = new Lexer(source, trimBlocks, lstripBlocks);
        lx.run();
        return lx.out;
    }

    /** \r\n, \r and \n become \n; one trailing newline is dropped (keep_trailing_newline=False). */
    static String normalizeNewlines(String s) {
        String n = s.replace("\r\n", "\n").replace('\r', '\n');
        return n.endsWith("\n") ? n.substring(0, n.length() - 1) : n;
    }

    private int lineAt(int p) {
        int lo = 0;
        int hi = lineStarts.length - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (lineStarts[mid] <= p) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo + 1;
    }

    private TemplateException error(String msg, int p) {
        return new TemplateException(msg, lineAt(p));
    }

    private void run() {
        int n = src.length();
        while (pos < n) {
            int tag = findTagStart(pos);
            if (tag < 0) {
                emit(Kind.DATA, src.substring(pos), pos);
                pos = n;
                break;
            }
            char kindChar = src.charAt(tag + 1);
            Matcher raw = kindChar == '%' ? RAW_BEGIN.matcher(src).region(tag, n) : null;
            boolean isRaw = raw != null && raw.lookingAt();
            char sign = tag + 2 < n ? src.charAt(tag + 2) : 0;
            if (sign != '-' && sign != '+') {
                sign = 0;
            }
            String text = stripBeforeTag(src.substring(pos, tag), sign, kindChar != '{');
            if (!text.isEmpty()) {
                emit(Kind.DATA, text, pos);
            }
            if (isRaw) {
                pos = raw.end();
                if (raw.group(2).equals("-%}")) {
                    while (pos < n && Py.isSpace(src.charAt(pos))) {
                        pos++;
                    }
                }
                lineStarting = src.charAt(pos - 1) == '\n';
                lexRaw(tag);
            } else if (kindChar == '#') {
                pos = tag + 2 + (sign == 0 ? 0 : 1);
                lexComment(tag);
            } else {
                pos = tag + 2 + (sign == 0 ? 0 : 1);
                lexTag(kindChar == '%', tag);
            }
        }
        out.add(new Token(Kind.EOF, "", null, lineAt(n)));
    }

    private int findTagStart(int from) {
        int n = src.length();
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < n; i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '%' || c == '{' || c == '#') {
                return i;
            }
        }
        return -1;
    }

    private String stripBeforeTag(String text, char sign, boolean blockOrComment) {
        if (sign == '-') {
            return Py.rstripWhitespace(text);
        }
        if (sign != '+' && lstripBlocks && blockOrComment) {
            int lpos = text.lastIndexOf('\n') + 1;
            if ((lpos > 0 || lineStarting) && lpos < text.length() && allWhitespace(text, lpos)) {
                return text.substring(0, lpos);
            }
        }
        return text;
    }

    private static boolean allWhitespace(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (!Py.isSpace(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** Length of an end delimiter match at p, or -1. Handles "+X", "-X\s*" and "X" (+ "\n" when trimming). */
    private int endMatch(int p, String delim, boolean allowPlus, boolean trim) {
        if (allowPlus && src.startsWith("+" + delim, p)) {
            return delim.length() + 1;
        }
        if (src.startsWith("-" + delim, p)) {
            int e = p + 1 + delim.length();
            while (e < src.length() && Py.isSpace(src.charAt(e))) {
                e++;
            }
            return e - p;
        }
        if (src.startsWith(delim, p)) {
            int e = p + delim.length();
            if (trim && e < src.length() && src.charAt(e) == '\n') {
                e++;
            }
            return e - p;
        }
        return -1;
    }

    private void lexComment(int start) {
        for (int p = pos; p < src.length(); p++) {
            int len = endMatch(p, "#}", true, trimBlocks);
            if (len >= 0) {
                pos = p + len;
                lineStarting = src.charAt(pos - 1) == '\n';
                return;
            }
        }
        throw error("Missing end of comment tag", start);
    }

    private void lexRaw(int start) {
        Matcher m = END_RAW.matcher(src);
        int from = pos;
        while (m.find(from)) {
            String end = m.group(2);
            int matchEnd = m.end();
            if (end.equals("-%}")) {
                while (matchEnd < src.length() && Py.isSpace(src.charAt(matchEnd))) {
                    matchEnd++;
                }
            } else if (end.equals("%}") && trimBlocks && matchEnd < src.length() && src.charAt(matchEnd) == '\n') {
                matchEnd++;
            }
            char sign = m.group(1).isEmpty() ? 0 : m.group(1).charAt(0);
            String text = stripBeforeTag(src.substring(pos, m.start()), sign, true);
            if (!text.isEmpty()) {
                emit(Kind.DATA, text, pos);
            }
            pos = matchEnd;
            lineStarting = src.charAt(pos - 1) == '\n';
            return;
        }
        throw error("Missing end of raw directive", start);
    }

    private void lexTag(boolean block, int start) {
        emit(block ? Kind.BLOCK_BEGIN : Kind.VAR_BEGIN, block ? "{%" : "{{", start);
        Deque<Character> balance = new ArrayDeque<>();
        int n = src.length();
        while (true) {
            if (pos >= n) {
                throw error("unexpected end of template, expected '" + (block ? "%}" : "}}") + "'", start);
            }
            if (balance.isEmpty()) {
                int len = block ? endMatch(pos, "%}", true, trimBlocks) : endMatch(pos, "}}", false, false);
                if (len >= 0) {
                    emit(block ? Kind.BLOCK_END : Kind.VAR_END, block ? "%}" : "}}", pos);
                    pos += len;
                    lineStarting = src.charAt(pos - 1) == '\n';
                    return;
                }
            }
            char c = src.charAt(pos);
            if (Py.isSpace(c)) {
                pos++;
                continue;
            }
            if (tryPattern(FLOAT, Kind.FLOAT) || tryPattern(INT, Kind.INT) || tryPattern(NAME, Kind.NAME)
                    || tryPattern(STRING, Kind.STRING)) {
                continue;
            }
            String op = null;
            for (String o : OPERATORS) {
                if (src.startsWith(o, pos)) {
                    op = o;
                    break;
                }
            }
            if (op == null) {
                throw error("unexpected char '" + c + "' at " + pos, pos);
            }
            switch (op) {
                case "{" -> balance.push('}');
                case "(" -> balance.push(')');
                case "[" -> balance.push(']');
                case "}", ")", "]" -> {
                    if (balance.isEmpty()) {
                        throw error("unexpected '" + op + "'", pos);
                    }
                    char expected = balance.pop();
                    if (expected != op.charAt(0)) {
                        throw error("unexpected '" + op + "', expected '" + expected + "'", pos);
                    }
                }
                default -> { }
            }
            emit(Kind.OP, op, pos);
            pos += op.length();
        }
    }

    private boolean tryPattern(Pattern p, Kind kind) {
        Matcher m = p.matcher(src).region(pos, src.length()).useTransparentBounds(true);
        if (!m.lookingAt()) {
            return false;
        }
        String text = m.group();
        Object value = switch (kind) {
            case INT -> parseInt(text.replace("_", ""));
            case FLOAT -> Double.parseDouble(text.replace("_", ""));
            case STRING -> unescape(text.substring(1, text.length() - 1), pos);
            default -> null;
        };
        emit(kind, text, value, pos);
        pos = m.end();
        return true;
    }

    private static Long parseInt(String t) {
        String lower = t.toLowerCase();
        if (lower.startsWith("0b")) {
            return Long.parseLong(t.substring(2), 2);
        } else if (lower.startsWith("0o")) {
            return Long.parseLong(t.substring(2), 8);
        } else if (lower.startsWith("0x")) {
            return Long.parseLong(t.substring(2), 16);
        }
        return Long.parseLong(t);
    }

    /** Python "unicode-escape" decoding of a string literal body, as jinja2 does. */
    private String unescape(String s, int at) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                b.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case '\n' -> { }
                case '\\' -> b.append('\\');
                case '\'' -> b.append('\'');
                case '"' -> b.append('"');
                case 'a' -> b.append('\u0007');
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'v' -> b.append('\u000b');
                case 'x', 'u', 'U' -> {
                    int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    String hex = s.substring(i + 1, Math.min(s.length(), i + 1 + len));
                    if (hex.length() != len || !hex.chars().allMatch(ch -> Character.digit(ch, 16) >= 0)) {
                        throw error("truncated \\" + e + " escape in string literal", at);
                    }
                    b.appendCodePoint(Integer.parseInt(hex, 16));
                    i += len;
                }
                case 'N' -> {
                    int close = s.indexOf('}', i);
                    if (i + 1 >= s.length() || s.charAt(i + 1) != '{' || close < 0) {
                        throw error("malformed \\N character escape in string literal", at);
                    }
                    try {
                        b.appendCodePoint(Character.codePointOf(s.substring(i + 2, close)));
                    } catch (IllegalArgumentException ex) {
                        throw error("unknown Unicode character name in string literal", at);
                    }
                    i = close;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int j = i;
                        int v = 0;
                        while (j < s.length() && j < i + 3 && s.charAt(j) >= '0' && s.charAt(j) <= '7') {
                            v = v * 8 + (s.charAt(j) - '0');
                            j++;
                        }
                        b.appendCodePoint(v);
                        i = j - 1;
                    } else {
                        b.append('\\').append(e);
                    }
                }
            }
        }
        return b.toString();
    }

    private void emit(Kind kind, String text, int at) {
        emit(kind, text, null, at);
    }

    private void emit(Kind kind, String text, Object value, int at) {
        out.add(new Token(kind, text, value, lineAt(at)));
    }
}
