package io.dmsserve.api;

/** OpenAI's error body: every field present, param and code null when they do not apply. */
record ErrorResponse(Detail error) {

    record Detail(String message, String type, String param, String code) {
    }
}
