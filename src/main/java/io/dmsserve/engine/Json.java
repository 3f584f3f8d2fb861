package io.dmsserve.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

/** The one JSON mapper of the loader: strict about duplicate keys, because a repeated key is a broken file. */
final class Json {

    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private Json() {
    }

    /** Reads a small JSON file that must hold one object. */
    static JsonNode readObject(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, "not found in " + file.toAbsolutePath().getParent());
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot be read (" + e + ")", e);
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (JacksonException e) {
            throw new CheckpointException(file, "is not valid JSON (" + describe(e) + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file, "must hold a JSON object, found " + kind(root));
        }
        return root;
    }

    /** Jackson's message without the source excerpt it appends, plus the line and column. */
    static String describe(JacksonException e) {
        TokenStreamLocation at = e.getLocation();
        String where = at == null || at.getLineNr() < 0 ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": ";
        return where + e.getOriginalMessage();
    }

    static String kind(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        return node.getNodeType().name().toLowerCase(Locale.ROOT) + " " + abbreviate(node.toString());
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }
}
