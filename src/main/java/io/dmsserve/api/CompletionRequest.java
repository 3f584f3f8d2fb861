package io.dmsserve.api;

import tools.jackson.databind.JsonNode;

/** A {@code POST /v1/completions} body: one prompt (a string, or an array holding one string). */
record CompletionRequest(String model, String prompt, SamplingOptions options) {

    static CompletionRequest parse(JsonNode root, int maxN) {
        Fields body = Fields.body(root);
        String model = body.string("model");
        JsonNode value = body.get("prompt");
        String prompt;
        if (value == null) {
            throw ApiException.missing("prompt");
        } else if (value.isString()) {
            prompt = value.stringValue();
        } else if (value.isArray() && value.size() == 1 && value.get(0).isString()) {
            prompt = value.get(0).stringValue();
        } else if (value.isArray() && value.size() != 1) {
            throw ApiException.invalidValue("prompt", "expected one prompt, but got an array of " + value.size()
                    + " elements; send one request per prompt.");
        } else {
            throw ApiException.invalidType("prompt", "a string or an array of one string",
                    value.isArray() ? "an array of " + Fields.describe(value.get(0)) : Fields.describe(value));
        }
        if (prompt.isEmpty()) {
            throw ApiException.invalidValue("prompt", "the prompt must not be empty.");
        }
        return new CompletionRequest(model, prompt, SamplingOptions.parse(body, maxN,
                SamplingOptions.Logprobs.COMPLETION));
    }
}
