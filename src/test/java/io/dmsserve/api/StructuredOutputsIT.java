package io.dmsserve.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * Structured outputs and forced tool calls from the embedded model (random weights) over HTTP: every answer
 * to a fuzzed set of schemas parses and passes networknt's JSON Schema validator, whole and streamed; with
 * {@code tool_choice: required} the calls are well formed. Thinking is on (Qwen3's default), so the
 * constraint also has to get the model through its reasoning block.
 */
@ApiServer
class StructuredOutputsIT {

    private static final SchemaRegistry VALIDATORS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    @LocalServerPort
    int port;
    Http http;

    @BeforeEach
    void setUp() {
        http = new Http(port, java.time.Duration.ofSeconds(120));
    }

    static List<String> schemas() {
        List<String> schemas = new ArrayList<>(List.of(
                "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":10},\"population\":"
                        + "{\"type\":\"integer\"},\"capital\":{\"type\":\"boolean\"},\"rivers\":{\"type\":\"array\",\"items\":"
                        + "{\"enum\":[\"Seine\",\"Loire\"]},\"maxItems\":3}},\"required\":[\"city\",\"population\",\"capital\"]}",
                "{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"object\",\"properties\":{\"why\":{\"type\":\"string\","
                        + "\"maxLength\":6}},\"required\":[\"why\"]}]}"));
        Random random = new Random(11);
        for (int i = 0; i < 6; i++) {
            schemas.add(Http.JSON.writeValueAsString(io.dmsserve.structured.SchemaFuzzerAccess.schema(random)));
        }
        return schemas;
    }

    private static String body(String responseFormat, String extra) {
        return "{\"messages\":[{\"role\":\"user\",\"content\":\"Describe Paris as JSON.\"}],\"max_tokens\":1500,"
                + "\"response_format\":" + responseFormat + extra + "}";
    }

    @Test
    void everyAnswerValidatesAgainstItsSchema() {
        List<String> schemas = schemas();
        for (int i = 0; i < schemas.size(); i++) {
            String schema = schemas.get(i);
            String format = "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"s" + i + "\",\"schema\":" + schema + "}}";
            for (String sampling : List.of(",\"temperature\":0", ",\"temperature\":1,\"seed\":" + (100 + i))) {
                Http.Reply reply = http.post("/v1/chat/completions", body(format, sampling));
                assertThat(reply.status()).as(reply.body()).isEqualTo(200);
                JsonNode choice = reply.json().get("choices").get(0);
                assertThat(choice.get("finish_reason").asString()).as(reply.body()).isEqualTo("stop");
                String content = choice.get("message").get("content").asString();
                JsonNode value = Http.JSON.readTree(content);
                assertThat(VALIDATORS.getSchema(schema).validate(value)).as("%s against %s", content, schema).isEmpty();
            }
        }
    }

    @Test
    void streamedAnswersValidateToo() {
        String schema = schemas().get(0);
        String format = "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"city\",\"schema\":" + schema + "}}";
        for (int seed = 0; seed < 3; seed++) {
            List<JsonNode> chunks = Http.sseJson(http.post("/v1/chat/completions", body(format,
                    ",\"stream\":true,\"temperature\":1,\"seed\":" + seed)).body());
            StringBuilder content = new StringBuilder();
            String finish = null;
            for (JsonNode chunk : chunks) {
                for (JsonNode choice : chunk.path("choices")) {
                    content.append(choice.get("delta").path("content").asString(""));
                    if (!choice.get("finish_reason").isNull()) {
                        finish = choice.get("finish_reason").asString();
                    }
                }
            }
            assertThat(finish).isEqualTo("stop");
            assertThat(VALIDATORS.getSchema(schema).validate(Http.JSON.readTree(content.toString())))
                    .as(content.toString()).isEmpty();
        }
    }

    /**
     * A free-form object has unbounded strings and nesting, so a model with random weights may not close it
     * within max_tokens; those that do finish are objects.
     */
    @Test
    void jsonObjectAnswersThatFinishAreObjects() {
        int finished = 0;
        for (int seed = 0; seed < 8; seed++) {
            JsonNode choice = http.post("/v1/chat/completions", body("{\"type\":\"json_object\"}",
                    ",\"temperature\":1,\"seed\":" + seed)).json().get("choices").get(0);
            if (choice.get("finish_reason").asString().equals("stop")) {
                finished++;
                String content = choice.get("message").get("content").asString();
                assertThat(Http.JSON.readTree(content).isObject()).as(content).isTrue();
            }
        }
        assertThat(finished).as("json_object answers that ended by themselves").isGreaterThanOrEqualTo(1);
    }

    @Test
    void requiredToolChoiceGivesWellFormedCallsFromRandomWeights() {
        String parameters = "{\"type\":\"object\",\"properties\":{\"city\":{\"enum\":[\"Paris\",\"Rome\"]},\"days\":"
                + "{\"type\":\"integer\"}},\"required\":[\"city\",\"days\"]}";
        String tools = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":" + parameters
                + "}},{\"type\":\"function\",\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"zone\":{\"type\":\"string\",\"maxLength\":5}},\"required\":[\"zone\"]}}}]";
        for (String choice : List.of("\"required\"", "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}")) {
            for (int seed = 0; seed < 3; seed++) {
                Http.Reply reply = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":"
                        + "\"Weather?\"}],\"max_tokens\":1500,\"temperature\":1,\"seed\":" + seed + ",\"tools\":" + tools
                        + ",\"tool_choice\":" + choice + ",\"parallel_tool_calls\":false}");
                assertThat(reply.status()).as(reply.body()).isEqualTo(200);
                JsonNode answer = reply.json().get("choices").get(0);
                assertThat(answer.get("finish_reason").asString()).as(reply.body()).isEqualTo("tool_calls");
                JsonNode calls = answer.get("message").get("tool_calls");
                assertThat(calls.size()).as(reply.body()).isEqualTo(1);
                String name = calls.get(0).get("function").get("name").asString();
                if (choice.startsWith("{")) {
                    assertThat(name).isEqualTo("get_weather");
                }
                JsonNode arguments = Http.JSON.readTree(calls.get(0).get("function").get("arguments").asString());
                String schema = name.equals("get_weather") ? parameters
                        : "{\"type\":\"object\",\"properties\":{\"zone\":{\"type\":\"string\",\"maxLength\":5}},\"required\":[\"zone\"]}";
                assertThat(VALIDATORS.getSchema(schema).validate(arguments)).as(reply.body()).isEmpty();
            }
        }
    }

    @Test
    void unsupportedSchemasAre400sNamingTheKeyword() {
        Map<String, String> cases = Map.of(
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"string\",\"pattern\":\"a+\"}}}",
                "pattern",
                "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"oneOf\":[]}}}", "oneOf",
                "{\"type\":\"xml\"}", "response_format.type",
                "{\"type\":\"json_schema\"}", "response_format.json_schema");
        cases.forEach((format, keyword) -> {
            Http.Reply reply = http.post("/v1/chat/completions", body(format, ""));
            assertThat(reply.status()).as(reply.body()).isEqualTo(400);
            JsonNode error = reply.json().get("error");
            assertThat(error.get("param").asString() + " " + error.get("message").asString()).as(reply.body())
                    .contains(keyword);
        });
        Http.Reply reply = http.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                + "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\","
                + "\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}}}],\"tool_choice\":\"required\"}");
        assertThat(reply.status()).as(reply.body()).isEqualTo(400);
        assertThat(reply.json().get("error").get("param").asString()).isEqualTo("tools[0].function.parameters");
        assertThat(reply.json().get("error").get("message").asString()).contains("format");
    }
}
