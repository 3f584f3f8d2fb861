package io.dmsserve.clients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.openai.errors.UnauthorizedException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.SystemMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.metadata.Usage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.model.Generation;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.openai.OpenAiChatModel;
import org.springframework.ai.openai.OpenAiChatOptions;

/**
 * Spring AI's OpenAI chat model (spring-ai-openai 2.0.1, built by hand, no starter) against the running
 * server: streaming and blocking, with and without a stop string. Text, finish reason and usage must be
 * those of the engine driven directly.
 */
class SpringAiOpenAiClientIT extends ClientTestSupport {

    private static final List<Message> PROMPT = List.of(new SystemMessage(SYSTEM), new UserMessage(USER));

    private OpenAiChatModel chatModel(String apiKey, List<String> stop) {
        OpenAiChatOptions.Builder options = OpenAiChatOptions.builder()
                .baseUrl(baseUrl()) // Spring AI 2.x sits on openai-java: the base URL includes /v1
                .apiKey(apiKey)
                .model(model.id())
                .temperature(0.0)
                .maxTokens(MAX_TOKENS)
                .streamUsage(true)
                .maxRetries(0)
                .timeout(Duration.ofSeconds(60));
        if (stop != null) {
            options.stop(stop);
        }
        return OpenAiChatModel.builder().options(options.build()).build();
    }

    @Test
    void streamsTheEnginesGreedyAnswer() {
        EngineOracle.Expected expected = oracle().chat(MESSAGES, MAX_TOKENS);

        Streamed streamed = stream(chatModel(API_KEY, null));

        assertStreamed(streamed, expected);
    }

    @Test
    void callReturnsTheEnginesGreedyAnswer() {
        EngineOracle.Expected expected = oracle().chat(MESSAGES, MAX_TOKENS);

        ChatResponse response = chatModel(API_KEY, null).call(new Prompt(PROMPT));

        assertThat(response.getResults()).hasSize(1);
        Generation generation = response.getResult();
        assertThat(generation.getOutput().getText()).as("text; expected %s", expected).isEqualTo(expected.text());
        assertThat(normalized(generation.getMetadata().getFinishReason())).isEqualTo(expected.finishReason());
        assertUsage(response.getMetadata().getUsage(), expected);
        assertThat(response.getMetadata().getModel()).isEqualTo(model.id());
    }

    @Test
    void streamStopsBeforeAStopString() {
        EngineOracle oracle = oracle();
        EngineOracle.StopCase stopCase = oracle.stopCase(oracle.chat(MESSAGES, MAX_TOKENS));

        Streamed streamed = stream(chatModel(API_KEY, List.of(stopCase.stop())));

        assertStreamed(streamed, stopCase.expected());
        assertThat(streamed.text()).doesNotContain(stopCase.stop());
    }

    @Test
    void callStopsBeforeAStopString() {
        EngineOracle oracle = oracle();
        EngineOracle.StopCase stopCase = oracle.stopCase(oracle.chat(MESSAGES, MAX_TOKENS));

        ChatResponse response = chatModel(API_KEY, List.of(stopCase.stop())).call(new Prompt(PROMPT));

        assertThat(response.getResult().getOutput().getText()).as("stop %s", stopCase.stop())
                .isEqualTo(stopCase.expected().text());
        assertThat(normalized(response.getResult().getMetadata().getFinishReason())).isEqualTo("stop");
        assertUsage(response.getMetadata().getUsage(), stopCase.expected());
    }

    @Test
    void wrongApiKeyIsRejectedAsUnauthorized() {
        long before = scheduler.statistics().completed();
        // openai-java maps 401 to its typed UnauthorizedException, read from the OpenAI error body.
        Throwable thrown = catchThrowable(() -> chatModel("not-the-key", null).call(new Prompt(PROMPT)));
        assertThat(thrown).as("what Spring AI throws").isInstanceOf(UnauthorizedException.class);
        UnauthorizedException unauthorized = (UnauthorizedException) thrown;
        assertThat(unauthorized.statusCode()).isEqualTo(401);
        assertThat(unauthorized.type()).contains("invalid_request_error");
        assertThat(unauthorized.code()).contains("invalid_api_key");
        assertThat(unauthorized.param()).isEmpty();
        assertThat(unauthorized.headers().values("WWW-Authenticate")).containsExactly("Bearer");
        assertThat(unauthorized.getMessage()).contains("Incorrect API key provided.");
        assertThat(scheduler.statistics().completed()).as("nothing was generated").isEqualTo(before);
    }

    private record Streamed(String text, String finishReason, Usage usage, int responses) {
    }

    private static Streamed stream(OpenAiChatModel chatModel) {
        List<ChatResponse> responses = chatModel.stream(new Prompt(PROMPT)).collectList()
                .block(Duration.ofSeconds(60));
        assertThat(responses).isNotEmpty();
        StringBuilder text = new StringBuilder();
        String finishReason = null;
        Usage usage = null;
        for (ChatResponse response : responses) {
            for (Generation generation : response.getResults()) {
                text.append(Objects.requireNonNullElse(generation.getOutput().getText(), ""));
                String reason = generation.getMetadata().getFinishReason();
                if (reason != null && !reason.isEmpty()) {
                    finishReason = reason;
                }
            }
            Usage u = response.getMetadata().getUsage();
            if (u != null && u.getTotalTokens() != null && u.getTotalTokens() > 0) {
                usage = u;
            }
        }
        return new Streamed(text.toString(), normalized(finishReason), usage, responses.size());
    }

    private static void assertStreamed(Streamed streamed, EngineOracle.Expected expected) {
        assertThat(streamed.text()).as("streamed text; expected %s", expected).isEqualTo(expected.text());
        assertThat(streamed.finishReason()).isEqualTo(expected.finishReason());
        assertThat(streamed.usage()).as("usage (stream_options.include_usage)").isNotNull();
        assertUsage(streamed.usage(), expected);
    }

    private static void assertUsage(Usage usage, EngineOracle.Expected expected) {
        assertThat(usage.getPromptTokens()).as("prompt tokens").isEqualTo(expected.promptTokens());
        assertThat(usage.getCompletionTokens()).as("completion tokens").isEqualTo(expected.completionTokens());
        assertThat(usage.getTotalTokens()).as("total tokens").isEqualTo(expected.totalTokens());
    }

    /** Spring AI passes the OpenAI value through, in whichever case the SDK gives it. */
    private static String normalized(String finishReason) {
        return finishReason == null ? null : finishReason.toLowerCase();
    }
}
