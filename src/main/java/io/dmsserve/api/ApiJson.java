package io.dmsserve.api;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.PropertyNamingStrategies;
import tools.jackson.databind.json.JsonMapper;

/**
 * JSON of the API, kept apart from the application's mapper so the wire format (snake_case names, nulls
 * written) cannot change with global settings. Requests are read as trees and checked field by field, so
 * every error can name its parameter.
 */
final class ApiJson {

    private static final JsonMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private ApiJson() {
    }

    /** Parses a request body; anything that is not one JSON value is a 400. */
    static JsonNode read(byte[] body) {
        if (body.length == 0) {
            throw ApiException.malformedJson("the body is empty");
        }
        try {
            return MAPPER.readTree(body);
        } catch (JacksonException e) {
            throw ApiException.malformedJson(e.getOriginalMessage());
        }
    }

    static byte[] write(Object value) {
        return MAPPER.writeValueAsBytes(value);
    }

    static String writeString(Object value) {
        return MAPPER.writeValueAsString(value);
    }

    static <T> T convert(JsonNode node, Class<T> type) {
        return MAPPER.convertValue(node, type);
    }
}
