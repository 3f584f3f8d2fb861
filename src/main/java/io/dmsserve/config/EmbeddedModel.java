package io.dmsserve.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.springframework.core.io.ClassPathResource;

/**
 * The small DMS checkpoint shipped inside the jar, served when no model path is configured. Weights are
 * memory-mapped, which needs a real file, so the few files are copied to a temporary directory first.
 */
final class EmbeddedModel {

    static final String NAME = "tiny-qwen3-dms";
    private static final String FOLDER = "models/" + NAME + "/";
    private static final List<String> FILES = List.of("config.json", "generation_config.json", "model.safetensors",
            "tokenizer.json", "tokenizer_config.json");

    private EmbeddedModel() {
    }

    static Path extract() {
        try {
            Path directory = Files.createTempDirectory("dms-serve-" + NAME);
            directory.toFile().deleteOnExit();
            for (String file : FILES) {
                Path target = directory.resolve(file);
                try (InputStream in = new ClassPathResource(FOLDER + file).getInputStream()) {
                    Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                }
                target.toFile().deleteOnExit();
            }
            return directory;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the embedded model " + NAME + ": " + e.getMessage(), e);
        }
    }
}
