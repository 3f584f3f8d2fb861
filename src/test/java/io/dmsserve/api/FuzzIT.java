package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerStatistics;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * Seeded fuzzing over loopback: 1,200 malformed or mutated requests (broken and truncated JSON, wrong types
 * for every field, huge, negative and non-finite numbers, NaN-like strings, lone surrogates and other odd
 * Unicode, deep nesting, oversized bodies, wrong content types and methods, empty bodies). No answer may be a
 * 5xx, every error must be in OpenAI's shape, and afterwards the server streams a normal request and has
 * given back every KV page. Every request gets its answer examined: the client waits long enough for any valid
 * mutation to finish (a request that asks for the whole context on the tiny model takes seconds, not
 * minutes), and one that gets no answer in that time fails the test like any other wrong answer.
 */
@ApiServer
class FuzzIT {

    private static final long SEED = 0xD35_5E7EL;
    private static final int REQUESTS = 1200;
    /** Far beyond any valid request on the tiny model: not an allowance for slow answers, a guard against none. */
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);
    /** Every status the fuzzed requests may get; anything else (a 5xx above all) fails. */
    private static final java.util.Set<Integer> EXPECTED_STATUSES = java.util.Set.of(200, 400, 404, 405, 413);

    @LocalServerPort
    int port;
    @Autowired
    Scheduler scheduler;
    @Autowired
    ServingModel model;

    private record Case(String method, String path, String contentType, byte[] body, String description) {
    }

    @Test
    void malformedRequestsNeverGet5xxAndTheServerKeepsServing() throws Exception {
        Http http = new Http(port, CLIENT_TIMEOUT);
        Random random = new Random(SEED);
        Map<Integer, Integer> statuses = new TreeMap<>();
        List<String> failures = new ArrayList<>();
        int examined = 0;
        int wrong = 0;
        long start = System.nanoTime();
        for (int i = 0; i < REQUESTS; i++) {
            Case c = next(random);
            String problem;
            try {
                HttpResponse<String> response = http.client.send(request(http, c),
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                statuses.merge(response.statusCode(), 1, Integer::sum);
                problem = check(response, c.path().matches("/v1/(chat/)?completions"));
                examined++;
            } catch (HttpTimeoutException e) {
                problem = "no answer within " + CLIENT_TIMEOUT.toSeconds() + " s";
            }
            if (problem != null) {
                wrong++;
                if (failures.size() < 20) {
                    failures.add("#" + i + ": " + problem + " <- " + c.description());
                }
            }
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        System.out.println("fuzz: " + REQUESTS + " requests in " + seconds + " s, statuses " + statuses + ", "
                + examined + " answers examined, " + wrong + " wrong");
        int wrongAnswers = wrong;
        assertTrue(failures.isEmpty(), () -> wrongAnswers + " wrong answers, the first ones:\n"
                + String.join("\n", failures));
        assertEquals(REQUESTS, examined, "every request got an answer that was examined");
        assertEquals(REQUESTS, statuses.values().stream().mapToInt(Integer::intValue).sum());
        assertTrue(statuses.getOrDefault(400, 0) > REQUESTS / 2, statuses::toString);
        assertTrue(statuses.getOrDefault(200, 0) > REQUESTS / 20, "some mutations stay valid: " + statuses);

        awaitIdle();
        Http.Reply normal = new Http(port).post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\","
                + "\"content\":\"still there?\"}],\"max_tokens\":12,\"temperature\":0,\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true}}");
        assertEquals(200, normal.status());
        List<JsonNode> chunks = Http.sseJson(normal.body());
        assertEquals(12, chunks.get(chunks.size() - 1).get("usage").get("completion_tokens").asInt());
        assertEquals("length", chunks.get(chunks.size() - 2).get("choices").get(0).get("finish_reason").asString());
        awaitIdle();
    }

    /** Null when the response is acceptable, else what is wrong with it. */
    private static String check(HttpResponse<String> response, boolean completion) {
        int status = response.statusCode();
        String body = response.body();
        if (!EXPECTED_STATUSES.contains(status)) {
            return "status " + status + ": " + shorten(body);
        }
        String type = response.headers().firstValue("Content-Type").orElse("");
        if (status == 200) {
            if (type.startsWith("text/event-stream")) {
                if (!body.endsWith("data: [DONE]\n\n")) {
                    return "stream without [DONE]: " + shorten(body);
                }
                for (String event : body.substring(0, body.length() - "data: [DONE]\n\n".length()).split("\n\n")) {
                    if (event.isEmpty()) {
                        continue;
                    }
                    try {
                        JsonNode chunk = Http.JSON.readTree(event.substring("data: ".length()));
                        if (!event.startsWith("data: ") || !chunk.isObject() || chunk.has("error")) {
                            return "bad stream event: " + shorten(event);
                        }
                    } catch (RuntimeException e) {
                        return "stream event that is not JSON: " + shorten(event);
                    }
                }
                return null;
            }
            try {
                JsonNode json = Http.JSON.readTree(body);
                return json.isObject() && (!completion || json.has("choices")) ? null
                        : "200 without choices: " + shorten(body);
            } catch (RuntimeException e) {
                return "200 with a body that is not JSON: " + shorten(body);
            }
        }
        if (!type.startsWith("application/json")) {
            return "status " + status + " with content type '" + type + "': " + shorten(body);
        }
        try {
            JsonNode root = Http.JSON.readTree(body);
            JsonNode error = root.get("error");
            boolean shaped = root.size() == 1 && error != null && error.size() == 4
                    && error.path("message").isString() && error.path("type").isString()
                    && (error.path("param").isString() || error.path("param").isNull())
                    && (error.path("code").isString() || error.path("code").isNull());
            if (!shaped) {
                return "error not in OpenAI's shape: " + shorten(body);
            }
            if (body.contains("Exception") || body.contains("\tat ")) {
                return "error leaks internals: " + shorten(body);
            }
            return null;
        } catch (RuntimeException e) {
            return "error body is not JSON: " + shorten(body);
        }
    }

    private static HttpRequest request(Http http, Case c) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(http.base + c.path())).timeout(CLIENT_TIMEOUT)
                .method(c.method(), c.body() == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(c.body()));
        if (c.contentType() != null) {
            b.header("Content-Type", c.contentType());
        }
        return b.build();
    }

    // ---- request generation ----

    private static final String[] WEIRD = {
        "null", "true", "false", "0", "-1", "1", "2", "3.5", "-0.0", "1e400", "-1e400", "1e-400",
        "99999999999999999999999999999", "-99999999999999999999999999", "9223372036854775807",
        "9223372036854775808", "2147483648", "-2147483649", "1" + "0".repeat(900), "1" + "0".repeat(1500),
        "0.30000000000000004", "\"\"", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"nan\"", "\"1e5\"", "\"true\"",
        "\"42\"", "\"\\ud800\"", "\"\\udc00x\\ud800\"", "\"\\ud83d\\ude00\\ud83d\"", "\"\\u0000\"", "\"\\uffff\\ufffe\"",
        "\"\u00e9\u4e2d\ud83d\udca5\u202e\"", "\"<|im_start|>\"", "\"<|im_end|>assistant\\n\"", "\"<think>\"",
        "\"" + "a".repeat(20_000) + "\"", "\"\\n\\n\\n\"", "\"tiny-qwen3-dms \"", "\"tiny-qwen3-dms\"", "[]", "{}",
        "[1,2,3]", "[\"a\",\"b\",\"c\",\"d\",\"e\"]", "[\"a\",\"\"]", "[null]", "[[[[[[[[[[]]]]]]]]]]",
        "[".repeat(600) + "]".repeat(600), "[".repeat(3000) + "]".repeat(3000),
        "{\"a\":".repeat(400) + "1" + "}".repeat(400), "{\"type\":\"text\",\"text\":\"hi\"}",
        "[{\"type\":\"text\",\"text\":\"\\ud83d\"}]", "[{\"type\":\"image_url\"}]", "[{\"type\":\"text\"}]",
        "[{\"type\":5,\"text\":\"x\"}]", "{\"include_usage\":true}", "{\"enable_thinking\":\"no\"}",
        "{\"messages\":[],\"add_generation_prompt\":false}", "NaN", "Infinity", "-", "0x10", "01", "+1", "1.", ".5",
        "undefined", "'single'",
    };

    private static final String[] CHAT_FIELDS = {"model", "messages", "max_tokens", "max_completion_tokens",
        "temperature", "top_p", "top_k", "seed", "stop", "n", "stream", "stream_options", "chat_template_kwargs"};

    private static final String[] CONTENT_TYPES = {"application/json", "application/json", "application/json",
        "text/plain", "application/xml", "multipart/form-data; boundary=xyz", "application/x-www-form-urlencoded",
        "application/json; charset=latin1", "application/json; charset=utf-16", "*/*", "garbage", null};

    private Case next(Random r) {
        boolean chat = r.nextInt(4) != 0;
        Map<String, String> fields = chat ? chatBase(r) : completionBase(r);
        String path = chat ? "/v1/chat/completions" : "/v1/completions";
        String description;
        byte[] body;
        int kind = r.nextInt(100);
        if (kind < 40) {
            // A weird value in one field, or deep inside it.
            String field = chat ? CHAT_FIELDS[r.nextInt(CHAT_FIELDS.length)] : r.nextBoolean() ? "prompt"
                    : CHAT_FIELDS[2 + r.nextInt(CHAT_FIELDS.length - 2)];
            String weird = WEIRD[r.nextInt(WEIRD.length)];
            fields.put(field, nested(field, weird, r));
            description = field + " <- " + shorten(fields.get(field));
            body = json(fields).getBytes(StandardCharsets.UTF_8);
        } else if (kind < 50) {
            // Several fields at once: removed, replaced, unknown ones added.
            List<String> keys = new ArrayList<>(fields.keySet());
            for (int k = 0; k < 3; k++) {
                String key = keys.get(r.nextInt(keys.size()));
                if (r.nextBoolean()) {
                    fields.remove(key);
                } else {
                    fields.put(key, WEIRD[r.nextInt(WEIRD.length)]);
                }
            }
            fields.put("x_unknown_" + r.nextInt(100), WEIRD[r.nextInt(WEIRD.length)]);
            description = "several: " + shorten(json(fields));
            body = json(fields).getBytes(StandardCharsets.UTF_8);
        } else if (kind < 75) {
            // Byte-level damage to a valid body.
            byte[] valid = json(fields).getBytes(StandardCharsets.UTF_8);
            body = damage(valid, r);
            description = "damaged: " + shorten(new String(body, StandardCharsets.UTF_8));
        } else if (kind < 90) {
            String odd = oddBody(r);
            body = odd.getBytes(StandardCharsets.UTF_8);
            description = "odd body: " + shorten(odd);
            if (r.nextInt(8) == 0) {
                body = odd.getBytes(StandardCharsets.UTF_16);
                description += " (UTF-16)";
            }
        } else {
            // Valid JSON at the wrong place or with the wrong method.
            String[] paths = {"/v1/models", "/v1/models/x%2Fy", "/v1/chat/completions/extra", "/v1/", "/v1",
                "/v1/%ff%fe", "/v1/chat//completions", "/v1/completions?stream=true", "/v1/embeddings"};
            String[] methods = {"POST", "GET", "PUT", "DELETE", "PATCH"};
            path = r.nextBoolean() ? paths[r.nextInt(paths.length)] : path;
            String method = methods[r.nextInt(methods.length)];
            body = json(fields).getBytes(StandardCharsets.UTF_8);
            return new Case(method, path, "application/json", method.equals("GET") ? null : body,
                    method + " " + path);
        }
        String contentType = CONTENT_TYPES[r.nextInt(CONTENT_TYPES.length)];
        return new Case("POST", path, contentType, body, description + " [" + contentType + "]");
    }

    private static Map<String, String> chatBase(Random r) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("model", "\"tiny-qwen3-dms\"");
        f.put("messages", "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"hello\"}]");
        common(f, r);
        f.put("chat_template_kwargs", "{\"enable_thinking\":false}");
        return f;
    }

    private static Map<String, String> completionBase(Random r) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("model", "\"tiny-qwen3-dms\"");
        f.put("prompt", "\"Once upon a time\"");
        common(f, r);
        return f;
    }

    private static void common(Map<String, String> f, Random r) {
        f.put("max_tokens", "4");
        f.put("max_completion_tokens", "4");
        f.put("temperature", "0.7");
        f.put("top_p", "0.9");
        f.put("top_k", "20");
        f.put("seed", "7");
        f.put("stop", "[\"\\n\\n\"]");
        f.put("n", Integer.toString(1 + r.nextInt(2)));
        f.put("stream", Boolean.toString(r.nextBoolean()));
        f.put("stream_options", "{\"include_usage\":true}");
    }

    /** Puts a weird value into a field, sometimes deep inside its expected structure. */
    private static String nested(String field, String weird, Random r) {
        switch (field) {
            case "messages" -> {
                String[] shapes = {weird, "[" + weird + "]", "[{\"role\":" + weird + ",\"content\":\"hi\"}]",
                    "[{\"role\":\"user\",\"content\":" + weird + "}]",
                    "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":" + weird + "}]}]",
                    "[{\"role\":\"user\",\"content\":[" + weird + "]}]",
                    "[{\"role\":\"assistant\",\"content\":" + weird + "},{\"role\":\"user\",\"content\":\"x\"}]",
                    "[{\"role\":\"user\",\"content\":\"x\",\"reasoning_content\":" + weird + "}]"};
                return shapes[r.nextInt(shapes.length)];
            }
            case "stop" -> {
                return r.nextBoolean() ? weird : "[" + weird + ",\"x\"]";
            }
            case "stream_options" -> {
                return r.nextBoolean() ? weird : "{\"include_usage\":" + weird + "}";
            }
            case "chat_template_kwargs" -> {
                return r.nextBoolean() ? weird : "{\"enable_thinking\":" + weird + "}";
            }
            case "prompt" -> {
                return r.nextBoolean() ? weird : "[" + weird + "]";
            }
            default -> {
                return weird;
            }
        }
    }

    private static byte[] damage(byte[] valid, Random r) {
        byte[] b = valid.clone();
        switch (r.nextInt(6)) {
            case 0 -> {
                return java.util.Arrays.copyOf(b, r.nextInt(b.length));
            }
            case 1 -> {
                int at = r.nextInt(b.length);
                byte[] out = new byte[b.length - 1];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(b, at + 1, out, at, b.length - at - 1);
                return out;
            }
            case 2 -> {
                String special = "{}[],:\"\\ \n\u0000";
                int at = r.nextInt(b.length + 1);
                String s = new String(b, StandardCharsets.UTF_8);
                return (s.substring(0, Math.min(at, s.length())) + special.charAt(r.nextInt(special.length()))
                        + s.substring(Math.min(at, s.length()))).getBytes(StandardCharsets.UTF_8);
            }
            case 3 -> {
                for (int k = 0; k < 1 + r.nextInt(4); k++) {
                    b[r.nextInt(b.length)] = (byte) r.nextInt(256); // may break UTF-8 too
                }
                return b;
            }
            case 4 -> {
                int from = r.nextInt(b.length);
                int to = Math.min(b.length, from + 1 + r.nextInt(20));
                byte[] out = new byte[b.length + (to - from)];
                System.arraycopy(b, 0, out, 0, to);
                System.arraycopy(b, from, out, to, b.length - from);
                return out;
            }
            default -> {
                byte[] out = new byte[b.length + 3];
                out[0] = (byte) 0xEF;
                out[1] = (byte) 0xBB;
                out[2] = (byte) 0xBF; // a UTF-8 byte-order mark
                System.arraycopy(b, 0, out, 3, b.length);
                return out;
            }
        }
    }

    private static String oddBody(Random r) {
        String[] odd = {"", " ", "\n", "null", "[]", "{}", "\"\"", "0", "-", "true", "{\"messages\":", "{\"messages\"}",
            "{'messages': []}", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],}",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}{}", "[" .repeat(100_000),
            "[".repeat(20_000) + "]".repeat(20_000), "{\"a\":".repeat(10_000), "<xml/>", "messages=hi&model=x",
            "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--xyz--", "\u0000\u0000\u0000",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(1_100_000) + "\"}]}",
            "{\"prompt\":\"" + "\\ud800".repeat(5000) + "\"}", "{\"messages\":[" + "{},".repeat(30_000) + "{}]}",
            "{\"stop\":[" + "\"a\",".repeat(50_000) + "\"a\"]}", "{\"n\":" + "9".repeat(5000) + "}",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1,\"max_tokens\":\"dup\"}",
        };
        return odd[r.nextInt(odd.length)];
    }

    private static String json(Map<String, String> fields) {
        StringBuilder s = new StringBuilder("{");
        fields.forEach((k, v) -> s.append(s.length() > 1 ? "," : "").append('"').append(k).append("\":").append(v));
        return s.append('}').toString();
    }

    private static String shorten(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...(" + s.length() + " chars)";
    }

    private void awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            SchedulerStatistics s = scheduler.statistics();
            if (s.running() == 0 && s.waiting() == 0 && scheduler.cacheStatistics().pagesInUse() == 0) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("not idle: " + scheduler.statistics() + ", pages in use "
                + scheduler.cacheStatistics().pagesInUse());
    }
}
