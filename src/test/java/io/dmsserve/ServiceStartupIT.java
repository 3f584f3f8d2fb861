package io.dmsserve;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.config.ServingModel;
import io.dmsserve.engine.simd.Kernels;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.web.reactive.function.client.WebClient;

/** The service starts on its embedded model and reports it on the actuator health endpoint. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ServiceStartupIT {

    @LocalServerPort
    int port;

    @Autowired
    ServingModel model;

    @Autowired
    io.dmsserve.scheduler.Scheduler scheduler;

    private String get(String path) {
        return WebClient.create("http://127.0.0.1:" + port).get().uri(path).retrieve().bodyToMono(String.class).block();
    }

    @Test
    void healthIsUpWithoutDetailsForAnonymousUsersAndTheModelIsInReadiness() {
        assertThat(get("/actuator/health")).isEqualTo("{\"groups\":[\"liveness\",\"readiness\"],\"status\":\"UP\"}");
        assertThat(get("/actuator/health/readiness")).isEqualTo("{\"status\":\"UP\"}");
        assertThat(model.embedded()).isTrue();
        assertThat(model.id()).isEqualTo("tiny-qwen3-dms");
        assertThat(model.backend()).isEqualTo("cpu");
        assertThat(model.policy().evicts()).as("auto picked dms for the DMS checkpoint").isTrue();
        assertThat(scheduler.engineAlive()).isTrue();
    }

    @Test
    void aStoppedEngineTakesTheInstanceOutOfReadinessButNotLiveness() {
        scheduler.stop();
        try {
            var readiness = WebClient.create("http://127.0.0.1:" + port).get().uri("/actuator/health/readiness")
                    .exchangeToMono(r -> r.bodyToMono(String.class).map(body -> r.statusCode().value() + " " + body))
                    .block();
            assertThat(readiness).isEqualTo("503 {\"status\":\"DOWN\"}");
            assertThat(get("/actuator/health/liveness")).isEqualTo("{\"status\":\"UP\"}");
        } finally {
            scheduler.start();
        }
        assertThat(get("/actuator/health/readiness")).isEqualTo("{\"status\":\"UP\"}");
    }

    /** failsafe's argLine keeps --add-modules=jdk.incubator.vector: the served engine runs the vector kernels. */
    @Test
    void theServerInThisJvmRunsTheVectorKernels() {
        assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector"))
                .as("failsafe's argLine lost --add-modules=jdk.incubator.vector").isPresent();
        assertThat(Kernels.name()).startsWith("vector-");
    }

    @Test
    void infoShowsTheBuild() {
        assertThat(get("/actuator/info")).contains("\"artifact\":\"dms-serve\"").contains("\"version\":\"0.1.0-SNAPSHOT\"");
    }
}
