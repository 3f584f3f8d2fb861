package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

/** The service on the CUDA backend streams chat over HTTP, and its KV pool is empty again afterwards. */
@Tag("gpu")
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"dms.backend=cuda", "dms.kv-cache.memory=64MB"})
class CudaServiceIT {

    @LocalServerPort
    int port;
    @Autowired
    ServingModel model;
    @Autowired
    Scheduler scheduler;

    @Test
    void streamsChatOnTheGpuAndFreesEveryPage() throws Exception {
        assertThat(model.backend()).isEqualTo("cuda");
        HttpClient client = HttpClient.newHttpClient();
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> reply = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/v1/chat/completions")).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
                            + i + "\"}],\"stream\":true,\"max_tokens\":48,\"temperature\":0.7,\"seed\":" + i + "}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(reply.statusCode()).isEqualTo(200);
            assertThat(reply.body()).contains("\"delta\"").endsWith("data: [DONE]\n\n")
                    .containsPattern("\"finish_reason\":\"(length|stop)\"");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (scheduler.cacheStatistics().pagesInUse() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(scheduler.cacheStatistics().pagesInUse()).isZero();
        assertThat(scheduler.statistics().failed()).isZero();
    }
}
