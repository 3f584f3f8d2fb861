package io.dmsserve.clients;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.ai.chat.messages.AssistantMessage;
import org.springframework.ai.chat.messages.Message;
import org.springframework.ai.chat.messages.ToolResponseMessage;
import org.springframework.ai.chat.messages.UserMessage;
import org.springframework.ai.chat.model.ChatResponse;
import org.springframework.ai.chat.prompt.Prompt;
import org.springframework.ai.model.tool.ToolCallingManager;
import org.springframework.ai.model.tool.ToolExecutionResult;
import org.springframework.ai.openai.OpenAiChatModel;
import org.springframework.ai.openai.OpenAiChatOptions;
import org.springframework.ai.support.ToolCallbacks;

/**
 * Spring AI's tool calling against the embedded model: {@code @Tool} methods become the request's tools, the
 * server answers with a call (tool_choice required, enforced by constrained decoding, so it holds for random
 * weights), Spring AI's ToolCallingManager runs the method and puts its result in the conversation, and the
 * next request (tool_choice none) gets the model's answer to it: call → result → answer.
 */
class SpringAiToolCallingIT extends ClientTestSupport {

    private OpenAiChatModel chatModel() {
        return OpenAiChatModel.builder().options(OpenAiChatOptions.builder().baseUrl(baseUrl()).apiKey(API_KEY)
                .model(model.id()).maxRetries(0).timeout(Duration.ofSeconds(120)).build()).build();
    }

    private OpenAiChatOptions options(WeatherTools tools, String toolChoice, double temperature) {
        return OpenAiChatOptions.builder().model(model.id()).toolCallbacks(ToolCallbacks.from(tools))
                .toolChoice(toolChoice).parallelToolCalls(false).temperature(temperature).maxTokens(600).build();
    }

    @Test
    void callResultAnswerLoop() {
        for (double temperature : new double[] {0.0, 1.0}) {
            WeatherTools tools = new WeatherTools();
            OpenAiChatModel chatModel = chatModel();
            Prompt prompt = new Prompt(List.<Message>of(new UserMessage("How warm will Rome be in two days?")),
                    options(tools, "required", temperature));

            ChatResponse response = chatModel.call(prompt);

            assertThat(response.hasToolCalls()).as("a forced call: %s", response).isTrue();
            AssistantMessage.ToolCall call = response.getResult().getOutput().getToolCalls().get(0);
            assertThat(call.name()).isEqualTo("forecast");
            assertThat(call.id()).startsWith("call_");
            assertThat(response.getResult().getMetadata().getFinishReason()).isEqualToIgnoringCase("tool_calls");

            ToolExecutionResult result = ToolCallingManager.builder().build().executeToolCalls(prompt, response);

            assertThat(tools.calls).as("Spring AI ran the @Tool method with the model's arguments").hasSize(
                    response.getResult().getOutput().getToolCalls().size());
            List<Message> history = result.conversationHistory();
            assertThat(history.get(history.size() - 1)).isInstanceOf(ToolResponseMessage.class);

            ChatResponse answer = chatModel.call(new Prompt(history, options(tools, "none", temperature)));

            assertThat(answer.hasToolCalls()).isFalse();
            assertThat(answer.getResult().getOutput().getText()).isNotNull();
            assertThat(answer.getResult().getMetadata().getFinishReason()).isIn("STOP", "LENGTH", "stop", "length");
            int userOnly = model.tokenizer().encode(model.tokenizer().chatTemplate().render(List.of(
                    io.dmsserve.tokenizer.ChatMessage.of("user", "How warm will Rome be in two days?")), true)).length;
            assertThat(answer.getMetadata().getUsage().getPromptTokens())
                    .as("the second prompt holds the call and its result (tool_choice none leaves the tools out)")
                    .isGreaterThan(userOnly + 20);
        }
    }
}
