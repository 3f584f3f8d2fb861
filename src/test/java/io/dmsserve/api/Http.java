package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A plain JDK HTTP/1.1 client against the test server, with helpers for JSON and raw SSE. */
final class Http {

    static final JsonMapper JSON = JsonMapper.builder().build();

    final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    final String base;
    final Duration timeout;

    Http(int port) {
        this(port, Duration.ofSeconds(30));
    }

    Http(int port, Duration timeout) {
        this.base = "http://127.0.0.1:" + port;
        this.timeout = timeout;
    }

    record Reply(int status, HttpResponse<String> response) {

        String body() {
            return response.body();
        }

        JsonNode json() {
            return JSON.readTree(response.body());
        }

        String header(String name) {
            return response.headers().firstValue(name).orElse(null);
        }
    }

    Reply post(String path, String body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout)
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        boolean contentType = false;
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
            contentType |= headers[i].equalsIgnoreCase("Content-Type");
        }
        if (!contentType) {
            b.header("Content-Type", "application/json");
        }
        return send(b.build());
    }

    Reply postBytes(String path, byte[] body, String contentType) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return send(b.build());
    }

    Reply get(String path, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout).GET();
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return send(b.build());
    }

    Reply send(HttpRequest request) {
        try {
            HttpResponse<String> r = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new Reply(r.statusCode(), r);
        } catch (IOException e) {
            throw new RuntimeException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    /**
     * Splits a raw SSE body into its data payloads, checking the framing exactly: every event is one
     * {@code data: <payload>} line followed by a blank line, and the last payload is [DONE].
     */
    static List<String> ssePayloads(String body) {
        assertTrue(body.endsWith("data: [DONE]\n\n"), () -> "stream must end with [DONE]: " + tail(body));
        List<String> payloads = new ArrayList<>();
        for (String event : body.substring(0, body.length() - 2).split("\n\n", -1)) {
            assertTrue(event.startsWith("data: ") && !event.contains("\n"), () -> "bad SSE event: " + event);
            payloads.add(event.substring("data: ".length()));
        }
        assertEquals("[DONE]", payloads.get(payloads.size() - 1));
        return payloads;
    }

    /** The JSON payloads of a stream, without [DONE]. */
    static List<JsonNode> sseJson(String body) {
        List<String> payloads = ssePayloads(body);
        return payloads.subList(0, payloads.size() - 1).stream().map(p -> (JsonNode) JSON.readTree(p)).toList();
    }

    private static String tail(String s) {
        return s.length() < 300 ? s : "..." + s.substring(s.length() - 300);
    }
}
