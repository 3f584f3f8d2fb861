package io.dmsserve.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * LangChain4j's OpenAI models (langchain4j-open-ai 1.19.0) against the running server: the streaming model
 * (SSE, usage from the final chunk) and the blocking one, with and without a stop string. Text, finish
 * reason and token usage must be those of the engine driven directly.
 */
class LangChain4jOpenAiClientIT extends ClientTestSupport {

    private static final List<ChatMessage> MESSAGES_LC4J = List.of(SystemMessage.from(SYSTEM), UserMessage.from(USER));

    private OpenAiStreamingChatModel streamingModel(List<String> stop) {
        return OpenAiStreamingChatModel.builder()
                .baseUrl(baseUrl())
                .apiKey(API_KEY)
                .modelName(model.id())
                .temperature(0.0)
                .maxTokens(MAX_TOKENS)
                .stop(stop)
                .timeout(Duration.ofSeconds(60))
                .build();
    }

    private OpenAiChatModel blockingModel(List<String> stop) {
        return OpenAiChatModel.builder()
                .baseUrl(baseUrl())
                .apiKey(API_KEY)
                .modelName(model.id())
                .temperature(0.0)
                .maxTokens(MAX_TOKENS)
                .stop(stop)
                .maxRetries(0)
                .timeout(Duration.ofSeconds(60))
                .build();
    }

    @Test
    void streamingModelStreamsTheEnginesGreedyAnswer() throws Exception {
        EngineOracle.Expected expected = oracle().chat(MESSAGES, MAX_TOKENS);

        Streamed streamed = stream(streamingModel(null));

        assertThat(streamed.partials()).as("partial responses: the answer must arrive in pieces").isGreaterThan(1);
        assertThat(streamed.text()).as("streamed text; expected %s", expected).isEqualTo(expected.text());
        assertResponse(streamed.response(), expected);
    }

    @Test
    void streamingModelStopsBeforeAStopString() throws Exception {
        EngineOracle oracle = oracle();
        EngineOracle.StopCase stopCase = oracle.stopCase(oracle.chat(MESSAGES, MAX_TOKENS));

        Streamed streamed = stream(streamingModel(List.of(stopCase.stop())));

        assertThat(streamed.text()).as("stop %s", stopCase.stop()).isEqualTo(stopCase.expected().text());
        assertResponse(streamed.response(), stopCase.expected());
    }

    @Test
    void blockingModelReturnsTheEnginesGreedyAnswer() {
        EngineOracle.Expected expected = oracle().chat(MESSAGES, MAX_TOKENS);

        ChatResponse response = blockingModel(null).chat(MESSAGES_LC4J);

        assertResponse(response, expected);
    }

    @Test
    void blockingModelStopsBeforeAStopString() {
        EngineOracle oracle = oracle();
        EngineOracle.StopCase stopCase = oracle.stopCase(oracle.chat(MESSAGES, MAX_TOKENS));

        ChatResponse response = blockingModel(List.of(stopCase.stop())).chat(MESSAGES_LC4J);

        assertResponse(response, stopCase.expected());
    }

    private record Streamed(String text, int partials, ChatResponse response) {
    }

    private static Streamed stream(OpenAiStreamingChatModel chatModel) throws Exception {
        StringBuilder text = new StringBuilder();
        int[] partials = {0};
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        chatModel.chat(MESSAGES_LC4J, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {
                synchronized (text) {
                    text.append(partialResponse);
                    partials[0]++;
                }
            }

            @Override
            public void onCompleteResponse(ChatResponse completeResponse) {
                done.complete(completeResponse);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse response = done.get(60, TimeUnit.SECONDS);
        synchronized (text) {
            return new Streamed(text.toString(), partials[0], response);
        }
    }

    private void assertResponse(ChatResponse response, EngineOracle.Expected expected) {
        assertThat(response.aiMessage().text()).as("text; expected %s", expected).isEqualTo(expected.text());
        assertThat(response.finishReason()).isEqualTo(switch (expected.finishReason()) {
            case "stop" -> FinishReason.STOP;
            case "length" -> FinishReason.LENGTH;
            default -> throw new AssertionError("unexpected finish reason " + expected.finishReason());
        });
        TokenUsage usage = response.tokenUsage();
        assertThat(usage).as("token usage").isNotNull();
        assertThat(usage.inputTokenCount()).as("prompt tokens").isEqualTo(expected.promptTokens());
        assertThat(usage.outputTokenCount()).as("completion tokens").isEqualTo(expected.completionTokens());
        assertThat(usage.totalTokenCount()).as("total tokens").isEqualTo(expected.totalTokens());
        assertThat(response.modelName()).isEqualTo(model.id());
        assertThat(response.id()).as("completion id").isNotBlank();
    }
}
