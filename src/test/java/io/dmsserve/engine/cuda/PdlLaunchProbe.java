package io.dmsserve.engine.cuda;

/**
 * PdlLaunchAbiIT's child process: loads the stand-in driver library named by its argument, then makes a launch
 * through {@link PdlLaunch} with known values, then another, and prints the result codes it got back.
 */
final class PdlLaunchProbe {

    private PdlLaunchProbe() {
    }

    public static void main(String[] args) {
        System.load(args[0]);
        PdlLaunch launch = PdlLaunch.open();
        // First 8 bytes of other bits in the fourth slot, then a null pointer there: a pointer written as 4 bytes would
        // leave the upper half of the first launch's value behind.
        KernelArgs first = new KernelArgs().i32(-7).f32(1.5f).f64(2.25).f64(Double.longBitsToDouble(0x7f0012345678L))
                .i32(123456);
        System.out.println("result " + launch.launch(0x1234L, 3, 4, 5, 128, 4096, 0xabcdL, first));
        KernelArgs second = new KernelArgs().i32(-7).f32(1.5f).f64(2.25).ptr(null).i32(123456);
        System.out.println("result " + launch.launch(0x1234L, 3, 4, 5, 128, 4096, 0xabcdL, second));
        launch.close();
    }
}
