package io.dmsserve.engine;

import java.util.List;

/** A step's result, one {@link SequenceOutput} per sequence of the plan, in its order. */
public record StepOutput(List<SequenceOutput> sequences) {

    public StepOutput {
        sequences = List.copyOf(sequences);
    }

    public SequenceOutput get(int i) {
        return sequences.get(i);
    }
}
