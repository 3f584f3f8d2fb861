package io.dmsserve.engine;

import java.util.Optional;

/**
 * Runs the Qwen3 forward pass with DMS decisions and sampling on some hardware. The CPU backend is the
 * reference oracle. A backend keeps no bookkeeping of its own: the KV cache manager decides which slot each
 * token takes and ships the page-table changes in every {@link StepPlan}; the backend stores the keys and
 * values, applies the DMS visibility rule from slot metadata, and returns token ids and decisions.
 *
 * <p>Life: built on a checkpoint (weights loaded), asked {@link #kvBytesPerPage} to size the pool,
 * {@link #allocateKv} once, then {@link #step} from one engine thread, then closed.
 */
public interface Backend extends AutoCloseable {

    String name();

    ModelConfig config();

    /** Memory one KV page of {@code pageSize} tokens takes (keys, values and slot metadata). */
    long kvBytesPerPage(int pageSize);

    /** Memory the KV store may still take, for a clear start-up error before allocating it. */
    long kvMemoryAvailable();

    /** Allocates the KV store and page tables; called once, before the first step. */
    void allocateKv(KvGeometry geometry);

    /**
     * Runs one step: applies the plan's page-table delta, processes every sequence's tokens, writes their
     * keys and values into the reserved slots, samples where asked.
     *
     * @return one output per sequence of the plan, in its order
     */
    StepOutput step(StepPlan plan);

    /**
     * Queues a step and returns before its output is read, so that the host can prepare the next step while this
     * one runs. At most two steps are pending: the caller awaits the older before submitting a third, and a step
     * that returns logits before submitting another. A one-token step may take {@link SequenceStep#FED_BACK} as its
     * token: the token its sequence sampled in the step submitted just before, which the backend reads where that
     * step left it (on a GPU, without a copy to the host and back). Such a sequence asks for no penalties, whose
     * counts are kept from the tokens fed. The default runs the step at once.
     */
    default PendingStep submit(StepPlan plan) {
        StepOutput output = step(plan);
        return () -> output;
    }

    /**
     * The device's memory now, for metrics; empty where there is no separate device (the CPU backend's KV
     * pool is on the Java heap, which the JVM's own meters cover). May be called from any thread.
     */
    default Optional<DeviceMemory> deviceMemory() {
        return Optional.empty();
    }

    /** The weights this backend copied to its device at load; empty where it reads them in place (the CPU's map). */
    default Optional<WeightUpload> weightUpload() {
        return Optional.empty();
    }

    @Override
    void close();
}
