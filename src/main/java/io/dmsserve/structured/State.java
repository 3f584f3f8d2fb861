package io.dmsserve.structured;

import java.util.Set;

/**
 * A matcher state: the set of stacks the bytes so far may have left (a JSON schema with anyOf is not
 * deterministic), each closed under epsilon moves: its top consumes, or it is empty (complete). Interned per
 * grammar, so a state's transitions and mask are computed once.
 */
final class State {

    final Set<Stack> stacks;
    /** The stacks again, as an array: a mask walk steps states on every byte, and an array is the cheapest loop. */
    final Stack[] list;
    final boolean accepting;
    /** next[b]: the state after byte b; null until computed; {@link Grammar#DEAD} when b cannot come. */
    final State[] next = new State[256];
    long[] mask; // allowed tokens, computed on first use

    State(Set<Stack> stacks) {
        this.stacks = stacks;
        this.list = stacks.toArray(new Stack[0]);
        this.accepting = stacks.contains(Stack.EMPTY);
    }
}
