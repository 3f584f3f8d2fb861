package io.dmsserve.clients;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The tools the client tests give the model: finite parameter types (an enum and an integer), so that a call
 * forced from random weights is complete within a few tokens. Records every call it serves.
 */
public class WeatherTools {

    public enum City { PARIS, ROME, OSLO }

    final List<String> calls = new CopyOnWriteArrayList<>();

    @org.springframework.ai.tool.annotation.Tool(description = "The temperature in a city some days from now, in °C")
    @dev.langchain4j.agent.tool.Tool("The temperature in a city some days from now, in °C")
    public int forecast(City city, long days) {
        calls.add(city + "/" + days);
        return switch (city) {
            case PARIS -> 18;
            case ROME -> 24;
            case OSLO -> 7;
        } + (int) Math.floorMod(days, 3L);
    }
}
