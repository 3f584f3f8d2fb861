package io.dmsserve.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The command line of {@code inspect}; every mistake is an {@link IllegalArgumentException} for the user. */
record InspectArguments(Path model, int[] tokenIds, String text, boolean chat, boolean enableThinking,
        int maxNewTokens, String policy, float threshold, boolean json, int prefillChunk, int threads) {

    static final String USAGE = String.join("\n",
            "usage: java -jar dms-serve.jar inspect --model DIR (--token-ids 1,2,3 | --text STRING [--chat]"
                    + " [--no-thinking])",
            "           [--max-new-tokens N] [--policy auto|dms|none] [--threshold X] [--prefill-chunk N]"
                    + " [--threads N] [--json]",
            "  Runs the prompt on the CPU reference engine, continues it greedily and reports what DMS did:",
            "  greedy ids, the last prompt position's logits, flagged positions per layer and KV head,",
            "  live KV slots per layer and head at the end, tokens evicted per layer.");

    static InspectArguments parse(String[] args) {
        Path model = null;
        int[] tokenIds = null;
        String text = null;
        boolean chat = false;
        boolean thinking = true;
        int maxNewTokens = 16;
        String policy = "auto";
        float threshold = 0f;
        boolean json = false;
        int prefillChunk = 0;
        int threads = Runtime.getRuntime().availableProcessors();
        List<String> rest = new ArrayList<>(Arrays.asList(args));
        while (!rest.isEmpty()) {
            String flag = rest.remove(0);
            switch (flag) {
                case "--model" -> model = Path.of(value(flag, rest));
                case "--token-ids" -> tokenIds = ids(value(flag, rest));
                case "--text" -> text = value(flag, rest);
                case "--chat" -> chat = true;
                case "--no-thinking" -> thinking = false;
                case "--max-new-tokens" -> maxNewTokens = positive(flag, value(flag, rest));
                case "--policy" -> policy = value(flag, rest);
                case "--threshold" -> threshold = number(flag, value(flag, rest));
                case "--prefill-chunk" -> prefillChunk = positive(flag, value(flag, rest));
                case "--threads" -> threads = positive(flag, value(flag, rest));
                case "--json" -> json = true;
                default -> throw new IllegalArgumentException("unknown option '" + flag + "'");
            }
        }
        if (model == null) {
            throw new IllegalArgumentException("--model DIR is required");
        }
        if ((tokenIds == null) == (text == null)) {
            throw new IllegalArgumentException("give exactly one of --token-ids and --text");
        }
        if (chat && text == null) {
            throw new IllegalArgumentException("--chat needs --text");
        }
        return new InspectArguments(model, tokenIds, text, chat, thinking, maxNewTokens, policy, threshold, json,
                prefillChunk, threads);
    }

    private static String value(String flag, List<String> rest) {
        if (rest.isEmpty()) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return rest.remove(0);
    }

    private static int[] ids(String list) {
        try {
            int[] ids = Arrays.stream(list.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
            if (ids.length == 0) {
                throw new IllegalArgumentException("--token-ids needs at least one id");
            }
            return ids;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--token-ids takes comma-separated integers, got '" + list + "'");
        }
    }

    private static int positive(String flag, String value) {
        try {
            int parsed = Integer.parseInt(value);
            if (parsed < 1) {
                throw new IllegalArgumentException(flag + " must be at least 1, got " + value);
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " takes an integer, got '" + value + "'");
        }
    }

    private static float number(String flag, String value) {
        try {
            return Float.parseFloat(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " takes a number, got '" + value + "'");
        }
    }
}
