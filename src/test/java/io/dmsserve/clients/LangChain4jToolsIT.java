package io.dmsserve.clients;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.agent.tool.ToolSpecifications;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.output.FinishReason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * LangChain4j's tools against the embedded model: tool specifications from {@code @Tool} methods, a forced
 * call (ToolChoice.REQUIRED) that comes back as a well-formed ToolExecutionRequest, the tool's result sent
 * back as a ToolExecutionResultMessage, and the model's answer to it.
 */
class LangChain4jToolsIT extends ClientTestSupport {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void requiredCallResultAnswer() {
        WeatherTools tools = new WeatherTools();
        List<ToolSpecification> specifications = ToolSpecifications.toolSpecificationsFrom(tools);
        OpenAiChatModel chatModel = OpenAiChatModel.builder().baseUrl(baseUrl()).apiKey(API_KEY).modelName(model.id())
                .temperature(1.0).seed(3).maxTokens(600).parallelToolCalls(false).maxRetries(0).timeout(Duration.ofSeconds(120)).build();
        List<ChatMessage> messages = new ArrayList<>(List.of(UserMessage.from("How cold is Oslo tomorrow?")));

        ChatResponse response = chatModel.chat(ChatRequest.builder().messages(messages).toolSpecifications(specifications)
                .toolChoice(ToolChoice.REQUIRED).build());

        AiMessage ai = response.aiMessage();
        assertThat(ai.hasToolExecutionRequests()).as("%s", response).isTrue();
        assertThat(response.finishReason()).isEqualTo(FinishReason.TOOL_EXECUTION);
        messages.add(ai);
        for (ToolExecutionRequest request : ai.toolExecutionRequests()) {
            assertThat(request.name()).isEqualTo("forecast");
            JsonNode arguments = JSON.readTree(request.arguments());
            WeatherTools.City city = WeatherTools.City.valueOf(arguments.get("city").asString());
            int result = tools.forecast(city, arguments.get("days").asLong());
            messages.add(ToolExecutionResultMessage.from(request, Integer.toString(result)));
        }

        ChatResponse answer = chatModel.chat(ChatRequest.builder().messages(messages).toolSpecifications(specifications)
                .toolChoice(ToolChoice.NONE).build());

        assertThat(answer.aiMessage().hasToolExecutionRequests()).isFalse();
        assertThat(answer.aiMessage().text()).isNotNull();
        int userOnly = model.tokenizer().encode(model.tokenizer().chatTemplate().render(List.of(
                io.dmsserve.tokenizer.ChatMessage.of("user", "How cold is Oslo tomorrow?")), true)).length;
        assertThat(answer.tokenUsage().inputTokenCount()).as("the call and its result are in the second prompt")
                .isGreaterThan(userOnly + 20);
    }
}
