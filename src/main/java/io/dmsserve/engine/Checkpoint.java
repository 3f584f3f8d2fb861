package io.dmsserve.engine;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A Hugging Face Qwen3 (or Qwen3-DMS) checkpoint directory, validated and memory-mapped.
 *
 * <p>{@link #open} checks everything up front (config, tokenizer files, every safetensors header, shard
 * index, the presence and shape of every tensor the forward pass reads), so that a broken checkpoint
 * fails at start-up with a {@link CheckpointException} naming the file and the tensor or field, never
 * half-way through a request. Weights stay in the page cache, not on the Java heap.
 *
 * <p>Java 17 cannot unmap a MappedByteBuffer explicitly: {@link #close} stops handing out tensors, and
 * the mappings go away once the tensors already handed out are unreachable.
 */
public final class Checkpoint implements AutoCloseable {

    static final String CONFIG = "config.json";
    static final String GENERATION_CONFIG = "generation_config.json";
    static final String TOKENIZER = "tokenizer.json";
    static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    private final Path directory;
    private final ModelConfig config;
    private final Optional<GenerationConfig> generationConfig;
    private final Path tokenizerJson;
    private final Path tokenizerConfigJson;
    private final WeightFiles weights;
    private final Map<String, Tensor> tensors;
    private volatile boolean closed;

    private Checkpoint(Path directory, ModelConfig config, Optional<GenerationConfig> generationConfig,
            WeightFiles weights, Map<String, Tensor> tensors) {
        this.directory = directory;
        this.config = config;
        this.generationConfig = generationConfig;
        this.tokenizerJson = directory.resolve(TOKENIZER);
        this.tokenizerConfigJson = directory.resolve(TOKENIZER_CONFIG);
        this.weights = weights;
        this.tensors = tensors;
    }

    public static Checkpoint open(Path directory) {
        return open(directory, MappedTensor.MAX_CHUNK_BYTES);
    }

    /** With a small {@code maxChunkBytes}, tests exercise tensors split over several mappings cheaply. */
    static Checkpoint open(Path directory, long maxChunkBytes) {
        if (!Files.isDirectory(directory)) {
            throw new CheckpointException(directory + ": checkpoint directory not found");
        }
        ModelConfig config = ModelConfig.parse(directory.resolve(CONFIG));
        requireFile(directory.resolve(TOKENIZER));
        requireFile(directory.resolve(TOKENIZER_CONFIG));
        Path generation = directory.resolve(GENERATION_CONFIG);
        Optional<GenerationConfig> generationConfig = Files.exists(generation)
                ? Optional.of(GenerationConfig.parse(generation))
                : Optional.empty();
        WeightFiles weights = WeightFiles.locate(directory);
        Qwen3Tensors.check(config, weights);
        return new Checkpoint(directory, config, generationConfig, weights, mapAll(weights, maxChunkBytes));
    }

    public Path directory() {
        return directory;
    }

    public ModelConfig config() {
        return config;
    }

    public Optional<GenerationConfig> generationConfig() {
        return generationConfig;
    }

    public Path tokenizerJson() {
        return tokenizerJson;
    }

    public Path tokenizerConfigJson() {
        return tokenizerConfigJson;
    }

    public Tensor tensor(String name) {
        ensureOpen();
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(weights.primary, "tensor '" + name + "' not found (searched "
                    + weights.searchedNames() + ")");
        }
        return t;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** Every tensor of the weight files, including those the forward pass does not read. */
    public Set<String> tensorNames() {
        return tensors.keySet();
    }

    /**
     * The output projection (vocab, hidden): {@code model.embed_tokens.weight} when the config ties the
     * embeddings (as transformers does, even if the file also holds an lm_head), else {@code lm_head.weight}.
     */
    public Tensor lmHead() {
        return tensor(config.tieWordEmbeddings() ? Qwen3Tensors.EMBED_TOKENS : Qwen3Tensors.LM_HEAD);
    }

    /** The safetensors files the tensors come from (for a sharded checkpoint, the index comes first). */
    public List<Path> weightFiles() {
        return weights.searched;
    }

    @Override
    public void close() {
        closed = true;
    }

    @Override
    public String toString() {
        return "Checkpoint[" + directory + ", " + tensors.size() + " tensors" + (config.isDms() ? ", DMS" : "") + "]";
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("checkpoint " + directory + " is closed");
        }
    }

    private static void requireFile(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, "not found in " + file.toAbsolutePath().getParent());
        }
    }

    /** One channel per file, closed again at once: a mapping outlives its channel. Keeps file order. */
    private static Map<String, Tensor> mapAll(WeightFiles weights, long maxChunkBytes) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        Map<Path, List<TensorEntry>> byFile = weights.entries.values().stream()
                .collect(Collectors.groupingBy(TensorEntry::file, LinkedHashMap::new, Collectors.toList()));
        byFile.forEach((file, entries) -> {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                for (TensorEntry e : entries) {
                    out.put(e.name(), MappedTensor.map(channel, e, maxChunkBytes));
                }
            } catch (IOException e) {
                throw new CheckpointException(file, "cannot be mapped (" + e + ")", e);
            }
        });
        return Collections.unmodifiableMap(out);
    }
}
