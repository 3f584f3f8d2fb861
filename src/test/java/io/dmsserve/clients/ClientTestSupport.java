package io.dmsserve.clients;

import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.tokenizer.ChatMessage;
import java.util.List;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The real server on a random port, serving the embedded model, with one API key configured so that
 * every client also proves it sends the key the OpenAI way ({@code Authorization: Bearer}). The client
 * tests share this context (same configuration, so Spring caches it).
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = {"dms.api.keys=" + ClientTestSupport.API_KEY,
    "dms.api.constrained-reasoning-budget=48"})
abstract class ClientTestSupport {

    static final String API_KEY = "dms-client-test-key";

    /** Small, so each request takes well under a second on the CPU. */
    static final int MAX_TOKENS = 24;

    static final String SYSTEM = "You are a helpful assistant.";
    static final String USER = "Write a haiku about the sea.";

    static final List<ChatMessage> MESSAGES = List.of(ChatMessage.of("system", SYSTEM), ChatMessage.of("user", USER));

    @LocalServerPort
    int port;

    @Autowired
    ServingModel model;

    @Autowired
    Scheduler scheduler;

    EngineOracle oracle() {
        return new EngineOracle(model, scheduler);
    }

    /** What OpenAI clients call the base URL: the endpoints' common prefix, /v1 included. */
    String baseUrl() {
        return "http://localhost:" + port + "/v1";
    }
}
