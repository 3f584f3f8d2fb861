package io.dmsserve.engine.cuda;

/**
 * PdlLaunchAbiIT's child process: loads the stand-in driver library named by its argument, then makes one launch
 * through {@link PdlLaunch} with known values and prints the result code it got back.
 */
final class PdlLaunchProbe {

    private PdlLaunchProbe() {
    }

    public static void main(String[] args) {
        System.load(args[0]);
        PdlLaunch launch = PdlLaunch.open();
        KernelArgs kernelArgs = new KernelArgs().i32(-7).f32(1.5f).f64(2.25).ptr(null).i32(123456);
        int result = launch.launch(0x1234L, 3, 4, 5, 128, 4096, 0xabcdL, kernelArgs);
        System.out.println("result " + result);
    }
}
