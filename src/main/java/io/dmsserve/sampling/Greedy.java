package io.dmsserve.sampling;

/** Greedy choice: the highest logit, the lowest id on ties (as torch.argmax does). */
public final class Greedy {

    private Greedy() {
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }
}
