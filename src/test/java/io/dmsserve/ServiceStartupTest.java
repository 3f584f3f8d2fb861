package io.dmsserve;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.config.ServingModel;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.web.reactive.function.client.WebClient;

/** The service starts on its embedded model and reports it on the actuator health endpoint. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ServiceStartupTest {

    @LocalServerPort
    int port;

    @Autowired
    ServingModel model;

    @Test
    void healthIsUpAndNamesTheEmbeddedModel() {
        String health = WebClient.create("http://127.0.0.1:" + port).get().uri("/actuator/health")
                .retrieve().bodyToMono(String.class).block();
        assertThat(health).contains("\"status\":\"UP\"").contains("tiny-qwen3-dms").contains("\"backend\":\"cpu\"");
        assertThat(model.embedded()).isTrue();
        assertThat(model.policy().evicts()).as("auto picked dms for the DMS checkpoint").isTrue();
        assertThat(model.policy().name()).isEqualTo("dms");
    }
}
