package io.dmsserve.structured;

/** An immutable stack of frames (a cons list), hashed once. The empty stack means: the value is complete. */
final class Stack {

    static final Stack EMPTY = new Stack(null, null);

    final Frame top;
    final Stack rest;
    final int depth;
    private final int hash;

    private Stack(Frame top, Stack rest) {
        this.top = top;
        this.rest = rest;
        this.depth = rest == null ? 0 : rest.depth + 1;
        this.hash = rest == null ? 0 : rest.hash * 31 + top.hashCode();
    }

    Stack push(Frame frame) {
        return new Stack(frame, this);
    }

    /** This stack without its top, with the frames pushed bottom to top. */
    Stack replaceTop(Frame[] frames) {
        Stack s = rest;
        for (Frame f : frames) {
            s = s.push(f);
        }
        return s;
    }

    boolean isEmpty() {
        return rest == null;
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Stack other) || other.hash != hash || other.depth != depth) {
            return false;
        }
        Stack a = this;
        Stack b = other;
        while (a != b) {
            if (a.rest == null || b.rest == null || !a.top.equals(b.top)) {
                return false;
            }
            a = a.rest;
            b = b.rest;
        }
        return true;
    }
}
