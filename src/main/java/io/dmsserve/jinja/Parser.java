package io.dmsserve.jinja;

import io.dmsserve.jinja.Lexer.Kind;
import io.dmsserve.jinja.Lexer.Token;
import io.dmsserve.jinja.Node.And;
import io.dmsserve.jinja.Node.Binary;
import io.dmsserve.jinja.Node.Block;
import io.dmsserve.jinja.Node.Branch;
import io.dmsserve.jinja.Node.Break;
import io.dmsserve.jinja.Node.Call;
import io.dmsserve.jinja.Node.Compare;
import io.dmsserve.jinja.Node.CondExpr;
import io.dmsserve.jinja.Node.Const;
import io.dmsserve.jinja.Node.Continue;
import io.dmsserve.jinja.Node.DictLit;
import io.dmsserve.jinja.Node.Expr;
import io.dmsserve.jinja.Node.FilterBlock;
import io.dmsserve.jinja.Node.FilterExpr;
import io.dmsserve.jinja.Node.For;
import io.dmsserve.jinja.Node.GetAttr;
import io.dmsserve.jinja.Node.GetItem;
import io.dmsserve.jinja.Node.If;
import io.dmsserve.jinja.Node.Kwarg;
import io.dmsserve.jinja.Node.ListLit;
import io.dmsserve.jinja.Node.MacroDef;
import io.dmsserve.jinja.Node.Name;
import io.dmsserve.jinja.Node.Or;
import io.dmsserve.jinja.Node.Print;
import io.dmsserve.jinja.Node.Set;
import io.dmsserve.jinja.Node.SetBlock;
import io.dmsserve.jinja.Node.SliceExpr;
import io.dmsserve.jinja.Node.Stmt;
import io.dmsserve.jinja.Node.Target;
import io.dmsserve.jinja.Node.TestExpr;
import io.dmsserve.jinja.Node.Text;
import io.dmsserve.jinja.Node.TupleLit;
import io.dmsserve.jinja.Node.Unary;
import java.util.ArrayList;
import java.util.List;

/** Recursive-descent parser mirroring jinja2/parser.py (same precedence and quirks). */
final class Parser {

    private static final java.util.Set<String> COMPARE_OPS = java.util.Set.of("==", "!=", "<", "<=", ">", ">=");

    private final List<Token> tokens;
    private int i;
    private int loopDepth;

    private Parser(List<Token> tokens) {
        this.tokens = tokens;
    }

    static List<Stmt> parse(List<Token> tokens) {
        Parser p = new Parser(tokens);
        List<Stmt> body = p.subparse(List.of());
        if (p.cur().kind() != Kind.EOF) {
            throw p.fail("unexpected " + p.cur());
        }
        return body;
    }

    // ---- token stream ----

    private Token cur() {
        return tokens.get(i);
    }

    private Token look() {
        return tokens.get(Math.min(i + 1, tokens.size() - 1));
    }

    private Token next() {
        Token t = tokens.get(i);
        if (t.kind() != Kind.EOF) {
            i++;
        }
        return t;
    }

    private boolean isOp(String op) {
        return cur().is(Kind.OP, op);
    }

    private boolean skipOp(String op) {
        if (isOp(op)) {
            i++;
            return true;
        }
        return false;
    }

    private boolean skipName(String n) {
        if (cur().isName(n)) {
            i++;
            return true;
        }
        return false;
    }

    private Token expect(Kind kind, String text) {
        Token t = cur();
        if (t.kind() != kind || (text != null && !t.text().equals(text))) {
            String want = text != null ? "'" + text + "'" : switch (kind) {
                case NAME -> "a name";
                case BLOCK_END -> "end of statement block";
                case VAR_END -> "end of print statement";
                default -> kind.toString();
            };
            throw fail("expected " + want + ", got " + t);
        }
        return next();
    }

    private Token expectOp(String op) {
        return expect(Kind.OP, op);
    }

    private TemplateException fail(String msg) {
        return new TemplateException(msg, cur().line());
    }

    // ---- statements ----

    private List<Stmt> subparse(List<String> endTags) {
        List<Stmt> body = new ArrayList<>();
        while (cur().kind() != Kind.EOF) {
            Token t = cur();
            switch (t.kind()) {
                case DATA -> {
                    body.add(new Text(t.text(), t.line()));
                    next();
                }
                case VAR_BEGIN -> {
                    next();
                    Expr e = parseTuple(true, List.of(), false);
                    expect(Kind.VAR_END, null);
                    body.add(new Print(e, t.line()));
                }
                case BLOCK_BEGIN -> {
                    next();
                    if (cur().kind() == Kind.NAME && endTags.contains(cur().text())) {
                        return body;
                    }
                    body.add(parseStatement());
                    expect(Kind.BLOCK_END, null);
                }
                default -> throw fail("unexpected " + t);
            }
        }
        if (!endTags.isEmpty()) {
            throw fail("unexpected end of template, expected one of " + endTags);
        }
        return body;
    }

    /** Body up to one of endTags; leaves the end tag name as the current token. */
    private List<Stmt> parseStatements(List<String> endTags, boolean dropNeedle) {
        skipOp(":");
        expect(Kind.BLOCK_END, null);
        List<Stmt> body = subparse(endTags);
        if (cur().kind() == Kind.EOF) {
            throw fail("unexpected end of template, expected one of " + endTags);
        }
        if (dropNeedle) {
            next();
        }
        return body;
    }

    private Stmt parseStatement() {
        Token t = cur();
        if (t.kind() != Kind.NAME) {
            throw fail("tag name expected");
        }
        return switch (t.text()) {
            case "if" -> parseIf();
            case "for" -> parseFor();
            case "set" -> parseSet();
            case "macro" -> parseMacro();
            case "filter" -> parseFilterBlock();
            case "generation" -> {
                next();
                yield new Block(parseStatements(List.of("endgeneration"), true), t.line());
            }
            case "break", "continue" -> {
                if (loopDepth == 0) {
                    throw fail("'" + t.text() + "' outside of a loop");
                }
                next();
                yield t.text().equals("break") ? new Break(t.line()) : new Continue(t.line());
            }
            default -> throw fail("unknown or unsupported tag '" + t.text() + "'");
        };
    }

    private Stmt parseIf() {
        int line = next().line();
        List<Branch> branches = new ArrayList<>();
        List<Stmt> otherwise = List.of();
        while (true) {
            Expr test = parseTuple(false, List.of(), false);
            List<Stmt> body = parseStatements(List.of("elif", "else", "endif"), false);
            branches.add(new Branch(test, body));
            Token t = next();
            if (t.isName("elif")) {
                continue;
            }
            if (t.isName("else")) {
                otherwise = parseStatements(List.of("endif"), true);
            }
            break;
        }
        return new If(branches, otherwise, line);
    }

    private Stmt parseFor() {
        int line = next().line();
        Target target = parseAssignTarget(List.of("in"), false);
        if (target.attr() != null) {
            throw fail("can't assign to a namespace attribute in a for loop");
        }
        expect(Kind.NAME, "in");
        Expr iter = parseTuple(false, List.of("recursive"), false);
        Expr filter = null;
        if (skipName("if")) {
            filter = parseExpression(true);
        }
        if (skipName("recursive")) {
            throw fail("recursive for loops are not supported");
        }
        loopDepth++;
        List<Stmt> body = parseStatements(List.of("endfor", "else"), false);
        loopDepth--;
        List<Stmt> otherwise = List.of();
        if (next().isName("else")) {
            otherwise = parseStatements(List.of("endfor"), true);
        }
        return new For(target.names(), iter, filter, body, otherwise, line);
    }

    private Stmt parseSet() {
        int line = next().line();
        Target target = parseAssignTarget(List.of(), true);
        if (skipOp("=")) {
            return new Set(target, parseTuple(true, List.of(), false), line);
        }
        if (isOp("|")) {
            throw fail("filtered block set is not supported");
        }
        return new SetBlock(target, parseStatements(List.of("endset"), true), line);
    }

    private Stmt parseMacro() {
        int line = next().line();
        String name = expect(Kind.NAME, null).text();
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        expectOp("(");
        while (!isOp(")")) {
            if (!params.isEmpty()) {
                expectOp(",");
            }
            params.add(expect(Kind.NAME, null).text());
            if (skipOp("=")) {
                defaults.add(parseExpression(true));
            } else if (defaults.stream().anyMatch(d -> d != null)) {
                throw fail("non-default argument follows default argument");
            } else {
                defaults.add(null);
            }
        }
        expectOp(")");
        int savedDepth = loopDepth;
        loopDepth = 0;
        List<Stmt> body = parseStatements(List.of("endmacro"), true);
        loopDepth = savedDepth;
        return new MacroDef(name, params, defaults, body, line);
    }

    private Stmt parseFilterBlock() {
        int line = next().line();
        Token nameToken = expect(Kind.NAME, null);
        checkFilter(nameToken);
        String name = nameToken.text();
        List<Expr> args = new ArrayList<>();
        List<Kwarg> kwargs = new ArrayList<>();
        if (isOp("(")) {
            parseCallArgs(args, kwargs);
        }
        if (isOp("|")) {
            throw fail("chained filters in a filter block are not supported");
        }
        return new FilterBlock(name, args, kwargs, parseStatements(List.of("endfilter"), true), line);
    }

    /** Names (tuple allowed) or, with namespace, {@code ns.attr}. */
    private Target parseAssignTarget(List<String> extraEnd, boolean withNamespace) {
        List<String> names = new ArrayList<>();
        while (true) {
            if (!names.isEmpty()) {
                expectOp(",");
            }
            if (isTupleEnd(extraEnd)) {
                break;
            }
            Token t = expect(Kind.NAME, null);
            if (withNamespace && isOp(".")) {
                next();
                String attr = expect(Kind.NAME, null).text();
                if (!names.isEmpty() || isOp(",")) {
                    throw fail("namespace attribute assignment cannot be part of a tuple");
                }
                return new Target(List.of(t.text()), attr);
            }
            if (List.of("true", "false", "none", "True", "False", "None").contains(t.text())) {
                throw fail("can't assign to constant '" + t.text() + "'");
            }
            names.add(t.text());
            if (!isOp(",")) {
                break;
            }
        }
        if (names.isEmpty()) {
            throw fail("expected an assignment target, got " + cur());
        }
        return new Target(names, null);
    }

    // ---- expressions ----

    private boolean isTupleEnd(List<String> extraEnd) {
        Token t = cur();
        if (t.kind() == Kind.VAR_END || t.kind() == Kind.BLOCK_END || t.is(Kind.OP, ")")) {
            return true;
        }
        return t.kind() == Kind.NAME && extraEnd.contains(t.text());
    }

    private Expr parseTuple(boolean withCondExpr, List<String> extraEnd, boolean explicitParens) {
        int line = cur().line();
        List<Expr> args = new ArrayList<>();
        boolean isTuple = false;
        while (true) {
            if (!args.isEmpty()) {
                expectOp(",");
            }
            if (isTupleEnd(extraEnd)) {
                break;
            }
            args.add(parseExpression(withCondExpr));
            if (isOp(",")) {
                isTuple = true;
            } else {
                break;
            }
        }
        if (!isTuple) {
            if (!args.isEmpty()) {
                return args.get(0);
            }
            if (!explicitParens) {
                throw fail("expected an expression, got " + cur());
            }
        }
        return new TupleLit(args, line);
    }

    private Expr parseExpression(boolean withCondExpr) {
        return withCondExpr ? parseCondExpr() : parseOr();
    }

    private Expr parseCondExpr() {
        int line = cur().line();
        Expr e1 = parseOr();
        while (skipName("if")) {
            Expr test = parseOr();
            Expr otherwise = skipName("else") ? parseCondExpr() : null;
            e1 = new CondExpr(test, e1, otherwise, line);
            line = cur().line();
        }
        return e1;
    }

    private Expr parseOr() {
        int line = cur().line();
        Expr left = parseAnd();
        while (skipName("or")) {
            left = new Or(left, parseAnd(), line);
            line = cur().line();
        }
        return left;
    }

    private Expr parseAnd() {
        int line = cur().line();
        Expr left = parseNot();
        while (skipName("and")) {
            left = new And(left, parseNot(), line);
            line = cur().line();
        }
        return left;
    }

    private Expr parseNot() {
        if (cur().isName("not")) {
            int line = next().line();
            return new Unary("not", parseNot(), line);
        }
        return parseCompare();
    }

    private Expr parseCompare() {
        int line = cur().line();
        Expr first = parseMath1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = cur();
            if (t.kind() == Kind.OP && COMPARE_OPS.contains(t.text())) {
                next();
                ops.add(t.text());
            } else if (skipName("in")) {
                ops.add("in");
            } else if (t.isName("not") && look().isName("in")) {
                next();
                next();
                ops.add("notin");
            } else {
                break;
            }
            rest.add(parseMath1());
        }
        return ops.isEmpty() ? first : new Compare(first, ops, rest, line);
    }

    private Expr parseMath1() {
        int line = cur().line();
        Expr left = parseConcat();
        while (isOp("+") || isOp("-")) {
            String op = next().text();
            left = new Binary(op, left, parseConcat(), line);
            line = cur().line();
        }
        return left;
    }

    private Expr parseConcat() {
        int line = cur().line();
        Expr left = parseMath2();
        while (skipOp("~")) {
            left = new Binary("~", left, parseMath2(), line);
        }
        return left;
    }

    private Expr parseMath2() {
        int line = cur().line();
        Expr left = parsePow();
        while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
            String op = next().text();
            left = new Binary(op, left, parsePow(), line);
            line = cur().line();
        }
        return left;
    }

    private Expr parsePow() {
        int line = cur().line();
        Expr left = parseUnary(true);
        while (skipOp("**")) {
            left = new Binary("**", left, parseUnary(true), line);
            line = cur().line();
        }
        return left;
    }

    private Expr parseUnary(boolean withFilter) {
        int line = cur().line();
        Expr node;
        if (skipOp("-")) {
            node = new Unary("-", parseUnary(false), line);
        } else if (skipOp("+")) {
            node = new Unary("+", parseUnary(false), line);
        } else {
            node = parsePrimary();
        }
        node = parsePostfix(node);
        if (withFilter) {
            node = parseFilterExpr(node);
        }
        return node;
    }

    private Expr parsePrimary() {
        Token t = cur();
        switch (t.kind()) {
            case NAME -> {
                next();
                return switch (t.text()) {
                    case "true", "True" -> new Const(Boolean.TRUE, t.line());
                    case "false", "False" -> new Const(Boolean.FALSE, t.line());
                    case "none", "None" -> new Const(null, t.line());
                    default -> new Name(t.text(), t.line());
                };
            }
            case STRING -> {
                next();
                StringBuilder b = new StringBuilder((String) t.value());
                while (cur().kind() == Kind.STRING) {
                    b.append((String) next().value());
                }
                return new Const(b.toString(), t.line());
            }
            case INT, FLOAT -> {
                next();
                return new Const(t.value(), t.line());
            }
            case OP -> {
                switch (t.text()) {
                    case "(" -> {
                        next();
                        Expr e = parseTuple(true, List.of(), true);
                        expectOp(")");
                        return e;
                    }
                    case "[" -> {
                        return parseList();
                    }
                    case "{" -> {
                        return parseDict();
                    }
                    default -> throw fail("unexpected '" + t.text() + "'");
                }
            }
            default -> throw fail("unexpected " + t);
        }
    }

    private Expr parseList() {
        int line = expectOp("[").line();
        List<Expr> items = new ArrayList<>();
        while (!isOp("]")) {
            if (!items.isEmpty()) {
                expectOp(",");
            }
            if (isOp("]")) {
                break;
            }
            items.add(parseExpression(true));
        }
        expectOp("]");
        return new ListLit(items, line);
    }

    private Expr parseDict() {
        int line = expectOp("{").line();
        List<Expr> keys = new ArrayList<>();
        List<Expr> values = new ArrayList<>();
        while (!isOp("}")) {
            if (!keys.isEmpty()) {
                expectOp(",");
            }
            if (isOp("}")) {
                break;
            }
            keys.add(parseExpression(true));
            expectOp(":");
            values.add(parseExpression(true));
        }
        expectOp("}");
        return new DictLit(keys, values, line);
    }

    private Expr parsePostfix(Expr node) {
        while (true) {
            if (isOp(".") || isOp("[")) {
                node = parseSubscript(node);
            } else if (isOp("(")) {
                node = parseCall(node);
            } else {
                return node;
            }
        }
    }

    private Expr parseFilterExpr(Expr node) {
        while (true) {
            if (isOp("|")) {
                node = parseFilter(node);
            } else if (cur().isName("is")) {
                node = parseTest(node);
            } else if (isOp("(")) {
                node = parseCall(node);
            } else {
                return node;
            }
        }
    }

    private Expr parseSubscript(Expr node) {
        Token t = next();
        if (t.text().equals(".")) {
            Token attr = next();
            if (attr.kind() == Kind.NAME) {
                return new GetAttr(node, attr.text(), t.line());
            }
            if (attr.kind() != Kind.INT) {
                throw new TemplateException("expected name or number", attr.line());
            }
            return new GetItem(node, new Const(attr.value(), attr.line()), t.line());
        }
        List<Expr> args = new ArrayList<>();
        while (!isOp("]")) {
            if (!args.isEmpty()) {
                expectOp(",");
            }
            args.add(parseSubscribed());
        }
        expectOp("]");
        Expr key = args.size() == 1 ? args.get(0) : new TupleLit(args, t.line());
        return new GetItem(node, key, t.line());
    }

    private Expr parseSubscribed() {
        int line = cur().line();
        Expr start = null;
        if (isOp(":")) {
            next();
        } else {
            Expr e = parseExpression(true);
            if (!isOp(":")) {
                return e;
            }
            next();
            start = e;
        }
        Expr stop = null;
        if (!isOp(":") && !isOp("]") && !isOp(",")) {
            stop = parseExpression(true);
        }
        Expr step = null;
        if (skipOp(":")) {
            if (!isOp("]") && !isOp(",")) {
                step = parseExpression(true);
            }
        }
        return new SliceExpr(start, stop, step, line);
    }

    private void parseCallArgs(List<Expr> args, List<Kwarg> kwargs) {
        expectOp("(");
        boolean requireComma = false;
        while (!isOp(")")) {
            if (requireComma) {
                expectOp(",");
                if (isOp(")")) {
                    break;
                }
            }
            if (isOp("*") || isOp("**")) {
                throw fail("*args and **kwargs in calls are not supported");
            }
            if (cur().kind() == Kind.NAME && look().is(Kind.OP, "=")) {
                String key = next().text();
                next();
                kwargs.add(new Kwarg(key, parseExpression(true)));
            } else {
                if (!kwargs.isEmpty()) {
                    throw fail("invalid syntax for function call expression");
                }
                args.add(parseExpression(true));
            }
            requireComma = true;
        }
        expectOp(")");
    }

    private Expr parseCall(Expr node) {
        int line = cur().line();
        List<Expr> args = new ArrayList<>();
        List<Kwarg> kwargs = new ArrayList<>();
        parseCallArgs(args, kwargs);
        return new Call(node, args, kwargs, line);
    }

    private Expr parseFilter(Expr node) {
        while (isOp("|")) {
            next();
            Token name = expect(Kind.NAME, null);
            checkFilter(name);
            List<Expr> args = new ArrayList<>();
            List<Kwarg> kwargs = new ArrayList<>();
            if (isOp("(")) {
                parseCallArgs(args, kwargs);
            }
            node = new FilterExpr(node, name.text(), args, kwargs, name.line());
        }
        return node;
    }

    private static void checkFilter(Token name) {
        if (Builtins.filter(name.text()) == null) {
            throw new TemplateException("No filter named '" + name.text() + "'.", name.line());
        }
    }

    private Expr parseTest(Expr node) {
        int line = next().line();
        boolean negated = skipName("not");
        Token nameToken = expect(Kind.NAME, null);
        String name = nameToken.text();
        if (Builtins.test(name) == null) {
            throw new TemplateException("No test named '" + name + "'.", nameToken.line());
        }
        List<Expr> args = new ArrayList<>();
        List<Kwarg> kwargs = new ArrayList<>();
        Token t = cur();
        if (isOp("(")) {
            parseCallArgs(args, kwargs);
        } else if ((t.kind() == Kind.NAME || t.kind() == Kind.STRING || t.kind() == Kind.INT
                || t.kind() == Kind.FLOAT || isOp("[") || isOp("{"))
                && !t.isName("else") && !t.isName("or") && !t.isName("and")) {
            if (t.isName("is")) {
                throw fail("You cannot chain multiple tests with is");
            }
            args.add(parsePostfix(parsePrimary()));
        }
        Expr test = new TestExpr(node, name, args, kwargs, line);
        return negated ? new Unary("not", test, line) : test;
    }
}
