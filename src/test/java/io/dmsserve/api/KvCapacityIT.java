package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.scheduler.Scheduler;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * A KV cache of 10 pages (16 tokens each, 4,176 bytes with their metadata on the CPU backend; the embedded
 * model has 3 layers × 2 KV heads): a request that can never fit is refused with 400, and one that fills the
 * cache while answering ends with "length".
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "dms.kv-cache.memory=41760B")
class KvCapacityIT {

    @LocalServerPort
    int port;

    @Autowired
    Scheduler scheduler;

    private WebClient.ResponseSpec post(String content, int maxTokens) {
        return WebClient.create("http://127.0.0.1:" + port).post().uri("/v1/chat/completions")
                .contentType(MediaType.APPLICATION_JSON)
                .bodyValue("{\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}],\"max_tokens\":"
                        + maxTokens + "}")
                .retrieve();
    }

    @Test
    void aPromptLargerThanTheCacheIsABadRequestNotAServerError() {
        assertThat(scheduler.cacheStatistics().pageCount()).isEqualTo(10);
        String body = post("one two three four five six seven eight nine ten eleven twelve thirteen", 5)
                .onStatus(status -> status.value() == 400, response -> reactor.core.publisher.Mono.empty())
                .toEntity(String.class).block().getBody();
        assertThat(body).contains("\"type\":\"invalid_request_error\"").contains("more than the 10 pages");
    }

    @Test
    void aSequenceThatFillsTheCacheEndsWithLength() {
        String body = post("hi", 200).bodyToMono(String.class).block();
        assertThat(body).contains("\"finish_reason\":\"length\"");
        assertThat(scheduler.cacheStatistics().pagesInUse()).isZero();
    }
}
