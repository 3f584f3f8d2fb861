package io.dmsserve.engine;

/**
 * A test backend in front of a real one: everything goes to {@code inner}, but for what a subclass overrides.
 * {@link #submit} is not passed on: the interface's default runs {@link #step}, so a subclass that overrides
 * only {@code step} sees every step.
 */
public abstract class DelegatingBackend implements Backend {

    protected final Backend inner;

    protected DelegatingBackend(Backend inner) {
        this.inner = inner;
    }

    @Override
    public StepOutput step(StepPlan plan) {
        return inner.step(plan);
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public ModelConfig config() {
        return inner.config();
    }

    @Override
    public long kvBytesPerPage(int pageSize) {
        return inner.kvBytesPerPage(pageSize);
    }

    @Override
    public long kvMemoryAvailable() {
        return inner.kvMemoryAvailable();
    }

    @Override
    public void allocateKv(KvGeometry geometry) {
        inner.allocateKv(geometry);
    }

    @Override
    public void close() {
        inner.close();
    }
}
