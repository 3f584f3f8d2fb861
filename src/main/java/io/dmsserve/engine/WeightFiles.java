package io.dmsserve.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import tools.jackson.databind.JsonNode;

/**
 * Where a checkpoint's tensors are: {@code model.safetensors}, or {@code model.safetensors.index.json}
 * and the shards its {@code weight_map} names. Like transformers, a single file wins over an index, and
 * every tensor of every shard is loaded, listed in the index or not.
 */
final class WeightFiles {

    static final String SINGLE = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";

    /** The file that "missing tensor" messages start with: model.safetensors or the index. */
    final Path primary;
    /** Every file searched for tensors, primary first (for the index: the index, then its shards). */
    final List<Path> searched;
    /** Tensor name to entry, in file order. */
    final Map<String, TensorEntry> entries;

    private WeightFiles(Path primary, List<Path> searched, Map<String, TensorEntry> entries) {
        this.primary = primary;
        this.searched = List.copyOf(searched);
        this.entries = Collections.unmodifiableMap(entries);
    }

    static WeightFiles locate(Path dir) {
        Path single = dir.resolve(SINGLE);
        Path index = dir.resolve(INDEX);
        if (Files.isRegularFile(single)) {
            Map<String, TensorEntry> entries = new LinkedHashMap<>();
            SafetensorsHeader.read(single).tensors.forEach(t -> entries.put(t.name(), t));
            return new WeightFiles(single, List.of(single), entries);
        }
        if (Files.isRegularFile(index)) {
            return sharded(dir, index);
        }
        throw new CheckpointException(single, "not found in " + dir + ", and neither is " + INDEX + otherFormatsHint(dir));
    }

    /** "model.safetensors" or "model.safetensors.index.json, model-00001-of-00002.safetensors, ...". */
    String searchedNames() {
        return searched.stream().map(p -> p.getFileName().toString()).collect(Collectors.joining(", "));
    }

    private static WeightFiles sharded(Path dir, Path index) {
        JsonFields fields = new JsonFields(index, Json.readObject(index));
        JsonNode map = fields.optional("weight_map").orElseThrow(() -> fields.error("weight_map", "is missing"));
        if (!map.isObject()) {
            throw fields.error("weight_map", "must be an object mapping tensor names to shard files");
        }
        Map<String, String> shardOf = new LinkedHashMap<>();
        map.properties().forEach(e -> shardOf.put(e.getKey(), shardName(fields, e.getKey(), e.getValue())));

        List<Path> searched = new ArrayList<>(List.of(index));
        Map<String, TensorEntry> entries = new LinkedHashMap<>();
        for (String shard : new TreeSet<>(shardOf.values())) {
            Path file = dir.resolve(shard);
            if (!Files.isRegularFile(file)) {
                String tensor = shardOf.entrySet().stream().filter(e -> e.getValue().equals(shard))
                        .findFirst().map(Map.Entry::getKey).orElseThrow();
                throw new CheckpointException(index, "weight_map sends tensor '" + tensor + "' to shard " + shard
                        + ", which is not in " + dir);
            }
            searched.add(file);
            for (TensorEntry t : SafetensorsHeader.read(file).tensors) {
                TensorEntry earlier = entries.putIfAbsent(t.name(), t);
                if (earlier != null) {
                    throw new CheckpointException(file, "tensor '" + t.name() + "' is also in " + earlier.fileName()
                            + " (duplicate tensor across shards)");
                }
            }
        }
        shardOf.forEach((tensor, shard) -> {
            TensorEntry t = entries.get(tensor);
            if (t == null || !t.fileName().equals(shard)) {
                throw new CheckpointException(dir.resolve(shard), "tensor '" + tensor + "' is not in this shard, although "
                        + INDEX + " says it is" + (t == null ? "" : " (it is in " + t.fileName() + ")"));
            }
        });
        return new WeightFiles(index, searched, entries);
    }

    /** A shard must be a plain file next to the index; anything else could point outside the checkpoint. */
    private static String shardName(JsonFields fields, String tensor, JsonNode value) {
        String name = value.isString() ? value.stringValue() : "";
        if (name.isEmpty() || name.contains("/") || name.contains("\\") || name.equals(".") || name.equals("..")) {
            throw fields.error("weight_map", "entry for tensor '" + tensor + "' is " + value
                    + ", expected the file name of a shard in the checkpoint directory");
        }
        return name;
    }

    private static String otherFormatsHint(Path dir) {
        for (String other : List.of("pytorch_model.bin", "pytorch_model.bin.index.json", "model.gguf")) {
            if (Files.exists(dir.resolve(other))) {
                return " (found " + other + "; only safetensors weights are supported)";
            }
        }
        return "";
    }
}
