package io.dmsserve;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The {@code gpu} tag's own test: run by {@code ./mvnw -Pgpu verify} (pom.xml, profile gpu: only tests tagged
 * gpu), never by the default build. It checks that the machine has what the CUDA backend needs from the host
 * (an NVIDIA device node and a loaded kernel driver), and fails, rather than skips, where there is none: a
 * gpu run on a machine without a GPU is a mistake to report. Reads /dev and /proc only, no child process.
 */
@Tag("gpu")
class GpuTagTest {

    @Test
    void aCudaDeviceAndItsDriverArePresent() throws Exception {
        assertThat(Path.of("/dev/nvidia0")).as("NVIDIA device node (no GPU on this machine?)").exists();
        Path version = Path.of("/proc/driver/nvidia/version");
        assertThat(version).as("NVIDIA kernel driver").isRegularFile();
        assertThat(Files.readString(version)).contains("NVIDIA");
    }
}
