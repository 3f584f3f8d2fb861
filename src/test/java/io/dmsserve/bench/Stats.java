package io.dmsserve.bench;

import java.util.Arrays;

final class Stats {

    private Stats() {
    }

    /** Nearest-rank percentile (p in (0, 100]) of the samples; NaN when there are none. */
    static double percentile(double[] samples, double p) {
        if (samples.length == 0) {
            return Double.NaN;
        }
        double[] sorted = samples.clone();
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
}
