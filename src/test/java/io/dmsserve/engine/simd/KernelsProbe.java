package io.dmsserve.engine.simd;

/** Run in a child JVM by {@link KernelChoiceProcessIT}: prints the kernels' name and a dot product. */
public final class KernelsProbe {

    private KernelsProbe() {
    }

    public static void main(String[] args) {
        float[] a = new float[67];
        float[] b = new float[67];
        for (int i = 0; i < a.length; i++) {
            a[i] = i + 1;
            b[i] = i % 2 == 0 ? 1 : -1;
        }
        // 1 - 2 + 3 - ... + 67 = 34, exact in fp32 in any order.
        System.out.println(Kernels.name() + " " + Kernels.get().dot(a, 0, b, 0, a.length));
    }
}
