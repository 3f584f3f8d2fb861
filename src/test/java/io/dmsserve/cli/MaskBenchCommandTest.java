package io.dmsserve.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * maskbench's token choice reads the mask's bits in place; it must choose what choosing uniformly from the list
 * of allowed ids chose (the benchmark's walks, and so its figures, stay comparable with the earlier ones).
 */
class MaskBenchCommandTest {

    @Test
    void pickChoosesWhatAListOfTheAllowedIdsWouldChoose() {
        Random masks = new Random(3);
        for (int trial = 0; trial < 200; trial++) {
            int vocab = 1 + masks.nextInt(700);
            long[] mask = new long[(vocab + 63) >>> 6];
            double density = masks.nextDouble();
            List<Integer> allowed = new ArrayList<>();
            for (int id = 0; id < vocab; id++) {
                if (masks.nextDouble() < density || id == vocab - 1) {
                    mask[id >>> 6] |= 1L << id;
                    allowed.add(id);
                }
            }
            long seed = masks.nextLong();
            Random a = new Random(seed);
            Random b = new Random(seed);
            for (int draw = 0; draw < 5; draw++) {
                int picked = MaskBenchCommand.pick(mask, a);
                assertThat(picked).isEqualTo(allowed.get(b.nextInt(allowed.size())));
            }
        }
    }
}
