package io.dmsserve.kvcache;

/**
 * The slots reserved for one sequence's tokens of one step, in every (layer, kvHead): where the backend
 * writes their keys and values. Reserved for the worst case (no token evicted); what the step's decisions
 * evict is freed after it.
 *
 * @param row the sequence's page-table row
 * @param first position of the first token
 * @param slots (layer, kvHead, length): physical slot of each token
 * @param previousSlots (layer, kvHead): physical slot of the token at position first − 1, whose flag the
 *     step's first decision sets; −1 when first is 0
 */
public record SlotReservation(int row, int first, int length, int[] slots, int[] previousSlots) {

    public int slot(int layer, int kvHead, int kvHeads, int c) {
        return slots[(layer * kvHeads + kvHead) * length + c];
    }
}
