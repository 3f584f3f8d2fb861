package io.dmsserve.sampling;

/**
 * The random numbers of sampling: counter-based, so draw i of a sequence is a pure function of its seed
 * and i. Every backend computes the same u (the CUDA sampling kernel has the same three lines), a sequence
 * draws the same numbers alone or batched, and a preempted sequence that is recomputed draws them again.
 */
public final class Draws {

    private Draws() {
    }

    /** SplitMix64's finaliser (Steele, Lea, Flood 2014). */
    public static long mix(long x) {
        x += 0x9E3779B97F4A7C15L;
        x = (x ^ (x >>> 30)) * 0xBF58476D1CE4E5B9L;
        x = (x ^ (x >>> 27)) * 0x94D049BB133111EBL;
        return x ^ (x >>> 31);
    }

    /** Draw {@code index} of the stream {@code seed}: uniform in [0, 1), 53 random bits. */
    public static double uniform(long seed, long index) {
        return (mix(seed ^ mix(index)) >>> 11) * 0x1.0p-53;
    }
}
