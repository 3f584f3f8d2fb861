package io.dmsserve.bench;

import io.netty.handler.codec.http.HttpHeaderNames;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.ByteBufFlux;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * Streaming chat completions over real HTTP with reactor-netty (non-blocking, one connection per stream),
 * as an OpenAI client sends them: {@code stream: true} with {@code stream_options.include_usage}. A stream
 * counts as an error unless it answers 200, sends no error event, ends with {@code data: [DONE]} and reports
 * usage; its tokens are the usage's completion tokens.
 */
final class HttpLoad implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String model;
    private final ConnectionProvider connections;
    private final LoopResources loops;
    private final HttpClient client;

    HttpLoad(int port, String model) {
        this.model = model;
        this.connections = ConnectionProvider.builder("bench").maxConnections(2048).pendingAcquireMaxCount(-1).build();
        this.loops = LoopResources.create("bench-client", 1, true);
        this.client = HttpClient.create(connections).runOn(loops).baseUrl("http://localhost:" + port)
                .responseTimeout(Duration.ofMinutes(10))
                .headers(h -> h.set(HttpHeaderNames.CONTENT_TYPE, "application/json"));
    }

    LoadResult run(List<String> prompts, int maxTokens) {
        List<String> bodies = new ArrayList<>();
        for (String prompt : prompts) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("model", model);
            body.put("messages", List.of(Map.of("role", "user", "content", prompt)));
            body.put("max_tokens", maxTokens);
            body.put("temperature", 0);
            body.put("stream", true);
            body.put("stream_options", Map.of("include_usage", true));
            bodies.add(JSON.writeValueAsString(body));
        }
        double cpuStart = LoadResult.processCpuSeconds();
        double engineCpuStart = LoadResult.engineThreadCpuSeconds();
        long start = System.nanoTime();
        List<Stream> streams = Flux.fromIterable(bodies)
                .flatMap(body -> stream(body, start), bodies.size())
                .collectList()
                .block(Duration.ofMinutes(10));
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpuSeconds = LoadResult.processCpuSeconds() - cpuStart;
        double engineCpuSeconds = LoadResult.engineThreadCpuSeconds() - engineCpuStart;
        long tokens = 0;
        int errors = 0;
        List<String> samples = new ArrayList<>();
        double[] ttft = new double[streams.size()];
        for (int i = 0; i < streams.size(); i++) {
            Stream s = streams.get(i);
            tokens += Math.max(0, s.completionTokens);
            ttft[i] = ((s.firstContent != 0 ? s.firstContent : s.end) - start) / 1e6;
            String problem = s.problem();
            if (problem != null) {
                errors++;
                if (samples.size() < 5) {
                    samples.add(problem);
                }
            }
        }
        if (!samples.isEmpty()) {
            System.err.println("HTTP errors (first " + samples.size() + "): " + samples);
        }
        return new LoadResult(streams.size(), tokens, seconds, cpuSeconds, engineCpuSeconds, ttft, errors, samples);
    }

    private Mono<Stream> stream(String body, long start) {
        return Mono.defer(() -> {
            Stream stream = new Stream();
            return client.post().uri("/v1/chat/completions")
                    .send(ByteBufFlux.fromString(Mono.just(body)))
                    .response((response, content) -> {
                        stream.status = response.status().code();
                        return content.asByteArray().doOnNext(stream::feed);
                    })
                    .then(Mono.fromCallable(() -> {
                        stream.end = System.nanoTime();
                        return stream;
                    }))
                    .onErrorResume(e -> {
                        stream.end = System.nanoTime();
                        stream.failure = e.toString();
                        return Mono.just(stream);
                    });
        });
    }

    @Override
    public void close() {
        connections.dispose();
        loops.dispose();
    }

    /** One SSE stream, parsed as bytes arrive (events end with a blank line; a UTF-8 character may span reads). */
    private static final class Stream {
        int status;
        long firstContent;
        long end;
        int completionTokens = -1;
        String finishReason;
        boolean done;
        String errorEvent;
        String failure;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        void feed(byte[] bytes) {
            pending.writeBytes(bytes);
            byte[] buffer = pending.toByteArray();
            int eventStart = 0;
            for (int i = 0; i + 1 < buffer.length; i++) {
                if (buffer[i] == '\n' && buffer[i + 1] == '\n') {
                    event(new String(buffer, eventStart, i - eventStart, StandardCharsets.UTF_8));
                    eventStart = i + 2;
                    i++;
                }
            }
            pending.reset();
            pending.write(buffer, eventStart, buffer.length - eventStart);
        }

        private void event(String event) {
            for (String line : event.split("\n")) {
                if (!line.startsWith("data:")) {
                    continue;
                }
                String data = line.substring(5).strip();
                if (data.equals("[DONE]")) {
                    done = true;
                    continue;
                }
                JsonNode chunk = JSON.readTree(data);
                if (chunk.has("error")) {
                    errorEvent = data;
                    continue;
                }
                for (JsonNode choice : chunk.path("choices").values()) {
                    String content = choice.path("delta").path("content").asString("");
                    if (!content.isEmpty() && firstContent == 0) {
                        firstContent = System.nanoTime();
                    }
                    if (choice.hasNonNull("finish_reason")) {
                        finishReason = choice.get("finish_reason").asString();
                    }
                }
                if (chunk.hasNonNull("usage")) {
                    completionTokens = chunk.get("usage").path("completion_tokens").asInt(-1);
                }
            }
        }

        String problem() {
            if (failure != null) {
                return failure;
            }
            if (status != 200) {
                return "HTTP " + status + " " + new String(pending.toByteArray(), StandardCharsets.UTF_8);
            }
            if (errorEvent != null) {
                return "error event " + errorEvent;
            }
            if (!done || finishReason == null || completionTokens < 0) {
                return "incomplete stream: done=" + done + " finish_reason=" + finishReason + " completion_tokens="
                        + completionTokens;
            }
            return null;
        }
    }
}
