package io.dmsserve.jinja;

import java.util.List;

/** Template AST. Every node carries its 1-based template line for error messages. */
final class Node {

    private Node() {
    }

    // ---- expressions ----

    sealed interface Expr permits Const, Name, GetAttr, GetItem, SliceExpr, ListLit, TupleLit, DictLit, Unary,
            Binary, And, Or, Compare, CondExpr, FilterExpr, TestExpr, Call {
        int line();
    }

    record Const(Object value, int line) implements Expr { }

    record Name(String name, int line) implements Expr { }

    record GetAttr(Expr target, String attr, int line) implements Expr { }

    record GetItem(Expr target, Expr key, int line) implements Expr { }

    /** {@code a:b:c} inside brackets; absent parts are null. */
    record SliceExpr(Expr start, Expr stop, Expr step, int line) implements Expr { }

    record ListLit(List<Expr> items, int line) implements Expr { }

    record TupleLit(List<Expr> items, int line) implements Expr { }

    record DictLit(List<Expr> keys, List<Expr> values, int line) implements Expr { }

    /** op is "-", "+" or "not". */
    record Unary(String op, Expr operand, int line) implements Expr { }

    /** op is one of + - * / // % ** ~. */
    record Binary(String op, Expr left, Expr right, int line) implements Expr { }

    record And(Expr left, Expr right, int line) implements Expr { }

    record Or(Expr left, Expr right, int line) implements Expr { }

    /** Chained comparison {@code a < b <= c}; ops are == != < <= > >= in notin. */
    record Compare(Expr first, List<String> ops, List<Expr> rest, int line) implements Expr { }

    /** {@code then if test else otherwise}; otherwise may be null (gives undefined). */
    record CondExpr(Expr test, Expr then, Expr otherwise, int line) implements Expr { }

    record Kwarg(String name, Expr value) { }

    record FilterExpr(Expr target, String name, List<Expr> args, List<Kwarg> kwargs, int line) implements Expr { }

    record TestExpr(Expr target, String name, List<Expr> args, List<Kwarg> kwargs, int line) implements Expr { }

    record Call(Expr callee, List<Expr> args, List<Kwarg> kwargs, int line) implements Expr { }

    // ---- statements ----

    sealed interface Stmt permits Text, Print, If, For, Set, SetBlock, MacroDef, Break, Continue, FilterBlock,
            Block {
        int line();
    }

    record Text(String text, int line) implements Stmt { }

    record Print(Expr expr, int line) implements Stmt { }

    record Branch(Expr test, List<Stmt> body) { }

    record If(List<Branch> branches, List<Stmt> otherwise, int line) implements Stmt { }

    /** targets has one name, or several for tuple unpacking. */
    record For(List<String> targets, Expr iter, Expr filter, List<Stmt> body, List<Stmt> otherwise, int line)
            implements Stmt { }

    /**
     * Assignment target: a list of names (tuple unpacking when more than one), or a namespace attribute
     * ({@code ns.attr}: names = [ns], attr non-null).
     */
    record Target(List<String> names, String attr) { }

    record Set(Target target, Expr value, int line) implements Stmt { }

    record SetBlock(Target target, List<Stmt> body, int line) implements Stmt { }

    record MacroDef(String name, List<String> params, List<Expr> defaults, List<Stmt> body, int line)
            implements Stmt { }

    record Break(int line) implements Stmt { }

    record Continue(int line) implements Stmt { }

    record FilterBlock(String name, List<Expr> args, List<Kwarg> kwargs, List<Stmt> body, int line)
            implements Stmt { }

    /** A body rendered in place (transformers' {@code {% generation %}} block). */
    record Block(List<Stmt> body, int line) implements Stmt { }
}
