package io.dmsserve;

import io.dmsserve.cli.BenchCommand;
import io.dmsserve.cli.GpuBenchCommand;
import io.dmsserve.cli.InspectCommand;
import io.dmsserve.cli.MaskBenchCommand;
import java.util.Arrays;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

@SpringBootApplication
@ConfigurationPropertiesScan
public class DmsServeApplication {

    public static void main(String[] args) {
        // Command-line tools, not the server: no Spring context, no port.
        if (args.length > 0 && args[0].equals("inspect")) {
            System.exit(InspectCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        if (args.length > 0 && args[0].equals("bench")) {
            System.exit(BenchCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        if (args.length > 0 && args[0].equals("maskbench")) {
            System.exit(MaskBenchCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        if (args.length > 0 && args[0].equals("gpubench")) {
            System.exit(GpuBenchCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        SpringApplication.run(DmsServeApplication.class, args);
    }
}
