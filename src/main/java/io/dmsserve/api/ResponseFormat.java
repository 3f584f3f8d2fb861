package io.dmsserve.api;

import tools.jackson.databind.JsonNode;

/** A chat request's {@code response_format}: text (null here), json_object, or json_schema with its schema. */
record ResponseFormat(boolean jsonObject, JsonNode schema) {

    static ResponseFormat parse(Fields body) {
        Fields format = body.object("response_format");
        if (format == null) {
            return null;
        }
        String type = format.string("type");
        if (type == null) {
            throw ApiException.missing(format.param("type"));
        }
        switch (type) {
            case "text":
                return null;
            case "json_object":
                return new ResponseFormat(true, null);
            case "json_schema":
                Fields jsonSchema = format.object("json_schema");
                if (jsonSchema == null) {
                    throw ApiException.missing(format.param("json_schema"));
                }
                if (jsonSchema.string("name") == null) {
                    throw ApiException.missing(jsonSchema.param("name"));
                }
                jsonSchema.bool("strict");
                JsonNode schema = jsonSchema.get("schema");
                if (schema == null) {
                    // OpenAI: a json_schema without a schema allows any JSON object.
                    return new ResponseFormat(true, null);
                }
                if (!schema.isObject() && !schema.isBoolean()) {
                    throw ApiException.invalidType(jsonSchema.param("schema"), "an object (a JSON schema)",
                            Fields.describe(schema));
                }
                return new ResponseFormat(false, schema);
            default:
                throw ApiException.invalidValue(format.param("type"), "'" + Text.quote(type)
                        + "' is not one of 'text', 'json_object', 'json_schema'.");
        }
    }
}
