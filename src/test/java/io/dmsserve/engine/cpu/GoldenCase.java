package io.dmsserve.engine.cpu;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.StreamSupport;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * One case of a golden.json made by tools/golden/make_golden.py (Hugging Face transformers and an
 * independent PyTorch DMS implementation, float64), read into plain arrays.
 */
public record GoldenCase(String model, String name, int[] promptIds, String policy, float threshold,
        double[][] promptLogits, int maxNewTokens, int[] greedy, int[][][] decisions, int[][] kvLive,
        long[] evicted) {

    public static final Path GOLDEN = Path.of("src/test/resources/golden");

    public static List<GoldenCase> load(String model) {
        Path file = GOLDEN.resolve(model).resolve("golden.json");
        if (!Files.exists(file)) {
            throw new IllegalStateException(file + " is missing: run tools/golden/make_golden.py (see its README)");
        }
        JsonNode root = JsonMapper.builder().build().readTree(file.toFile());
        List<GoldenCase> cases = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            cases.add(new GoldenCase(model, c.get("name").asString(), ints(c.get("prompt_ids")),
                    c.get("policy").asString(), (float) c.get("threshold").asDouble(),
                    doubles2(c.get("prompt_logits")), c.get("max_new_tokens").asInt(), ints(c.get("greedy")),
                    ints3(c.get("decisions")), ints2(c.get("kv_live")),
                    stream(c.get("evicted")).mapToLong(JsonNode::asLong).toArray()));
        }
        return cases;
    }

    @Override
    public String toString() {
        return model + "/" + name;
    }

    private static java.util.stream.Stream<JsonNode> stream(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false);
    }

    private static int[] ints(JsonNode array) {
        return stream(array).mapToInt(JsonNode::asInt).toArray();
    }

    private static int[][] ints2(JsonNode array) {
        return stream(array).map(GoldenCase::ints).toArray(int[][]::new);
    }

    private static int[][][] ints3(JsonNode array) {
        return stream(array).map(GoldenCase::ints2).toArray(int[][][]::new);
    }

    private static double[][] doubles2(JsonNode array) {
        return stream(array).map(row -> stream(row).mapToDouble(JsonNode::asDouble).toArray())
                .toArray(double[][]::new);
    }
}
