package io.dmsserve.tools;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the integration tests need from the machine: executables on the PATH, and free loopback ports. */
public final class HostTools {

    private HostTools() {
    }

    /** The absolute path of an executable on the PATH, or a failure saying how to get it (never a skip). */
    public static String require(String name, String howToGetIt) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        throw new IllegalStateException(name + " is not on the PATH: " + howToGetIt);
    }

    /** A port nobody listens on now (the test's server binds it next). */
    public static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
