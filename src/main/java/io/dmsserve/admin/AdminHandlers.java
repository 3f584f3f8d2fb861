package io.dmsserve.admin;

import io.dmsserve.config.AdminProperties;
import io.dmsserve.config.ServingModel;
import io.dmsserve.scheduler.RetentionTrace;
import io.dmsserve.scheduler.Scheduler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.security.core.Authentication;
import org.springframework.security.web.server.csrf.CsrfToken;
import org.springframework.util.MultiValueMap;
import org.springframework.web.reactive.function.BodyInserters;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/** The dashboard's pages, live feed and JSON API. Roles and CSRF are checked before these run. */
final class AdminHandlers {

    /** Retention runs hold the batch while they run (engine thread): kept short. */
    static final int RETENTION_MAX_PROMPT = 512;
    static final int RETENTION_MAX_NEW = 64;
    private static final Duration RETENTION_TIMEOUT = Duration.ofSeconds(60);
    /** Strict for scripts: a misspelt field is an error, not a silent no-op. */
    private static final JsonMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).build();
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Dashboard dashboard;
    private final AdminControls controls;
    private final Scheduler scheduler;
    private final ServingModel model;
    private final AdminProperties properties;

    AdminHandlers(Dashboard dashboard, AdminControls controls, Scheduler scheduler, ServingModel model,
            AdminProperties properties) {
        this.dashboard = dashboard;
        this.controls = controls;
        this.scheduler = scheduler;
        this.model = model;
        this.properties = properties;
    }

    // ---- pages

    Mono<ServerResponse> login(ServerRequest request) {
        return page(request, "login", Map.of("error", request.queryParam("error").isPresent(),
                "loggedOut", request.queryParam("logout").isPresent()));
    }

    Mono<ServerResponse> overview(ServerRequest request) {
        return page(request, "overview", Map.of("snapshot", dashboard.snapshot()));
    }

    Mono<ServerResponse> cache(ServerRequest request) {
        return page(request, "cache", Map.of("snapshot", dashboard.snapshot()));
    }

    Mono<ServerResponse> requests(ServerRequest request) {
        return page(request, "requests", Map.of("snapshot", dashboard.snapshot(),
                "showPrompts", properties.showPrompts()));
    }

    Mono<ServerResponse> retentionPage(ServerRequest request) {
        return page(request, "retention", retentionModel("", 16, null, null));
    }

    Mono<ServerResponse> retentionRun(ServerRequest request) {
        return request.formData().flatMap(form -> {
            String prompt = form.getFirst("prompt") == null ? "" : form.getFirst("prompt");
            String count = form.getFirst("maxTokens") == null ? "" : form.getFirst("maxTokens").strip();
            int maxTokens;
            try {
                maxTokens = Integer.parseInt(count);
            } catch (NumberFormatException e) {
                return page(request, "retention", retentionModel(prompt, 16, null,
                        "Tokens to generate: '" + count + "' is not a whole number"), HttpStatus.BAD_REQUEST);
            }
            return retention(prompt, maxTokens)
                    .flatMap(json -> page(request, "retention", retentionModel(prompt, maxTokens, json, null)))
                    .onErrorResume(RetentionProblem.class, e -> page(request, "retention",
                            retentionModel(prompt, maxTokens, null, e.getMessage()), e.status));
        });
    }

    Mono<ServerResponse> settingsPage(ServerRequest request) {
        Map<String, Object> values = formValues(controls.current());
        return page(request, "settings", settingsModel(values, Map.of(),
                request.queryParam("saved").isPresent()));
    }

    Mono<ServerResponse> settingsSave(ServerRequest request) {
        return Mono.zip(request.formData(), user(request)).flatMap(t -> {
            MultiValueMap<String, String> form = t.getT1();
            Map<String, String> fields = new HashMap<>();
            form.forEach((k, v) -> fields.put(k, v.isEmpty() ? "" : v.get(0)));
            Map<String, String> errors = SettingsUpdate.newErrors();
            SettingsUpdate update = SettingsUpdate.fromForm(fields, errors);
            // Every field's message at once: the parse errors, and what the values that parsed break.
            controls.problems(update).forEach(errors::putIfAbsent);
            if (errors.isEmpty()) {
                try {
                    controls.change(t.getT2(), update);
                    return ServerResponse.seeOther(java.net.URI.create("/admin/settings?saved")).build();
                } catch (AdminControls.InvalidSettings e) {
                    errors.putAll(e.errors);
                }
            }
            Map<String, Object> values = new HashMap<>(fields);
            values.put("evictionEnabled", fields.containsKey("evictionEnabled"));
            return page(request, "settings", settingsModel(values, errors, false), HttpStatus.BAD_REQUEST);
        });
    }

    Mono<ServerResponse> events(ServerRequest request) {
        Flux<ServerSentEvent<Dashboard.Snapshot>> events = Flux.interval(Duration.ZERO, Duration.ofSeconds(1))
                .map(i -> ServerSentEvent.builder(dashboard.snapshot()).event("snapshot").id(Long.toString(i))
                        .build());
        return ServerResponse.ok().contentType(MediaType.TEXT_EVENT_STREAM)
                .body(BodyInserters.fromServerSentEvents(events));
    }

    // ---- JSON API

    Mono<ServerResponse> apiCsrf(ServerRequest request) {
        Mono<CsrfToken> token = request.exchange().getAttributeOrDefault(CsrfToken.class.getName(), Mono.empty());
        return token.flatMap(t -> ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(Map.of(
                "headerName", t.getHeaderName(), "parameterName", t.getParameterName(), "token", t.getToken())));
    }

    Mono<ServerResponse> apiSettings(ServerRequest request) {
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(settingsBody());
    }

    Mono<ServerResponse> apiChange(ServerRequest request) {
        return Mono.zip(request.bodyToMono(String.class).defaultIfEmpty(""), user(request)).flatMap(t -> {
            SettingsUpdate update;
            try {
                update = STRICT.readValue(t.getT1(), SettingsUpdate.class);
            } catch (JacksonException e) {
                return Problems.respond(Problems.problem(HttpStatus.BAD_REQUEST, "invalid-json", "Invalid JSON",
                        "The body must be a JSON object with any of evictionEnabled, threshold, layerOffsets,"
                                + " window, maxRunning, maxWaiting: " + e.getOriginalMessage()));
            }
            if (update == null) {
                return Problems.respond(Problems.problem(HttpStatus.BAD_REQUEST, "invalid-json", "Invalid JSON",
                        "The body must be a JSON object"));
            }
            try {
                controls.change(t.getT2(), update);
            } catch (AdminControls.InvalidSettings e) {
                return Problems.respond(Problems.invalid(e.errors));
            }
            return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(settingsBody());
        });
    }

    Mono<ServerResponse> apiSnapshot(ServerRequest request) {
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(dashboard.snapshot());
    }

    Mono<ServerResponse> apiAudit(ServerRequest request) {
        return ServerResponse.ok().contentType(MediaType.APPLICATION_JSON)
                .bodyValue(controls.store().recent(Integer.MAX_VALUE));
    }

    Mono<ServerResponse> apiRetention(ServerRequest request) {
        return request.bodyToMono(String.class).defaultIfEmpty("").flatMap(body -> {
            RetentionRequest run;
            try {
                run = STRICT.readValue(body, RetentionRequest.class);
            } catch (JacksonException e) {
                return Problems.respond(Problems.problem(HttpStatus.BAD_REQUEST, "invalid-json", "Invalid JSON",
                        "The body must be {\"prompt\": text, \"maxTokens\": 1.." + RETENTION_MAX_NEW + "}: "
                                + e.getOriginalMessage()));
            }
            if (run == null || run.prompt() == null || run.maxTokens() == null) {
                return Problems.respond(Problems.problem(HttpStatus.BAD_REQUEST, "invalid-retention",
                        "Invalid retention run", "prompt and maxTokens are required"));
            }
            return retention(run.prompt(), run.maxTokens())
                    .flatMap(json -> ServerResponse.ok().contentType(MediaType.APPLICATION_JSON).bodyValue(json))
                    .onErrorResume(RetentionProblem.class, e -> Problems.respond(Problems.problem(e.status,
                            "invalid-retention", "Retention run refused", e.getMessage())));
        });
    }

    record RetentionRequest(String prompt, Integer maxTokens) {
    }

    // ---- helpers

    /** A refused or failed retention run, with the status it answers. */
    static final class RetentionProblem extends RuntimeException {
        final HttpStatus status;

        RetentionProblem(HttpStatus status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** Runs the prompt on the engine and returns the view's data as JSON text. */
    private Mono<String> retention(String prompt, int maxTokens) {
        if (prompt.isBlank()) {
            return Mono.error(new RetentionProblem(HttpStatus.BAD_REQUEST, "Prompt: write some text to run"));
        }
        if (maxTokens < 1 || maxTokens > RETENTION_MAX_NEW) {
            return Mono.error(new RetentionProblem(HttpStatus.BAD_REQUEST, "Tokens to generate: must be between 1 and "
                    + RETENTION_MAX_NEW + ", got " + maxTokens));
        }
        int[] tokens = model.tokenizer().encode(prompt);
        int limit = Math.min(RETENTION_MAX_PROMPT, scheduler.contextLength() - maxTokens);
        if (tokens.length > limit) {
            return Mono.error(new RetentionProblem(HttpStatus.BAD_REQUEST, "Prompt: " + tokens.length
                    + " tokens; a retention run takes at most " + limit));
        }
        if (tokens.length == 0) {
            return Mono.error(new RetentionProblem(HttpStatus.BAD_REQUEST, "Prompt: it makes no token"));
        }
        return Mono.fromFuture(() -> scheduler.retention(tokens, maxTokens)).timeout(RETENTION_TIMEOUT)
                .map(trace -> retentionJson(prompt, trace))
                .onErrorMap(e -> !(e instanceof RetentionProblem), e -> new RetentionProblem(
                        HttpStatus.SERVICE_UNAVAILABLE, "The engine could not run it now: " + (e instanceof
                        TimeoutException ? "no answer within " + RETENTION_TIMEOUT.toSeconds() + " s"
                        : String.valueOf(e.getMessage()))));
    }

    private String retentionJson(String prompt, RetentionTrace trace) {
        Map<String, Object> out = new LinkedHashMap<>();
        int layers = trace.held().length;
        int kvHeads = layers == 0 ? 0 : trace.held()[0].length;
        out.put("prompt", prompt);
        out.put("promptTokens", trace.tokens().length - trace.generated().length + 1);
        out.put("generated", model.tokenizer().decode(trace.generated()));
        out.put("window", trace.rule().window());
        out.put("evicts", trace.rule().evicts());
        List<Float> thresholds = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            thresholds.add(trace.rule().evicts() ? trace.rule().threshold(l) : null);
        }
        out.put("thresholds", thresholds);
        out.put("layers", layers);
        out.put("kvHeads", kvHeads);
        List<String> pieces = new ArrayList<>();
        for (int id : trace.tokens()) {
            pieces.add(model.tokenizer().decode(new int[] {id}, false));
        }
        out.put("tokens", pieces);
        List<List<Map<String, Object>>> heads = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            List<Map<String, Object>> row = new ArrayList<>();
            for (int h = 0; h < kvHeads; h++) {
                StringBuilder held = new StringBuilder();
                List<Float> logits = new ArrayList<>();
                for (int k = 0; k < trace.tokens().length; k++) {
                    held.append(trace.held()[l][h][k] ? '1' : '0');
                    float logit = trace.decisionLogits()[l][h][k];
                    logits.add(Float.isNaN(logit) ? null : logit);
                }
                row.add(Map.of("held", held.toString(), "live", trace.live()[l][h], "logits", logits));
            }
            heads.add(row);
        }
        out.put("heads", heads);
        return JSON.writeValueAsString(out);
    }

    private Map<String, Object> retentionModel(String prompt, int maxTokens, String json, String error) {
        Map<String, Object> m = new HashMap<>();
        m.put("prompt", prompt);
        m.put("maxTokens", maxTokens);
        m.put("maxNew", RETENTION_MAX_NEW);
        m.put("retention", json);
        m.put("error", error);
        return m;
    }

    private Map<String, Object> settingsModel(Map<String, Object> values, Map<String, String> errors, boolean saved) {
        Map<String, Object> m = new HashMap<>();
        m.put("values", values);
        m.put("errors", errors);
        m.put("saved", saved);
        m.put("evicting", controls.evicting());
        m.put("policy", controls.policyName());
        m.put("layers", controls.layers());
        m.put("ceiling", controls.maxRunningCeiling());
        m.put("contextLength", controls.contextLength());
        m.put("settings", controls.current());
        m.put("audit", controls.store().recent(50));
        return m;
    }

    private static Map<String, Object> formValues(AdminSettings s) {
        Map<String, Object> values = new HashMap<>();
        values.put("evictionEnabled", s.evictionEnabled());
        values.put("threshold", Float.toString(s.threshold()));
        values.put("layerOffsets", AdminSettings.join(s.layerOffsets()));
        values.put("window", Integer.toString(s.window()));
        values.put("maxRunning", Integer.toString(s.maxRunning()));
        values.put("maxWaiting", Integer.toString(s.maxWaiting()));
        return values;
    }

    private Map<String, Object> settingsBody() {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("settings", controls.current());
        body.put("policy", controls.policyName());
        body.put("layers", controls.layers());
        body.put("maxRunningCeiling", controls.maxRunningCeiling());
        body.put("contextLength", controls.contextLength());
        body.put("windowAppliesTo", "sequences that start after the change");
        return body;
    }

    private static Mono<String> user(ServerRequest request) {
        return request.principal().map(java.security.Principal::getName).defaultIfEmpty("unknown");
    }

    private Mono<ServerResponse> page(ServerRequest request, String name, Map<String, Object> attributes) {
        return page(request, name, attributes, HttpStatus.OK);
    }

    private Mono<ServerResponse> page(ServerRequest request, String name, Map<String, Object> attributes,
            HttpStatus status) {
        Map<String, Object> m = new HashMap<>(attributes);
        m.put("page", name);
        m.put("modelId", model.id());
        m.put("admin", false);
        Mono<CsrfToken> csrf = request.exchange().getAttributeOrDefault(CsrfToken.class.getName(), Mono.empty());
        return csrf.doOnNext(token -> m.put("csrf", token))
                .then(request.principal().doOnNext(p -> {
                    m.put("user", p.getName());
                    m.put("admin", p instanceof Authentication auth && auth.getAuthorities().stream()
                            .anyMatch(a -> a.getAuthority().equals("ROLE_ADMIN")));
                }).then())
                .then(Mono.defer(() -> ServerResponse.status(status).contentType(MediaType.TEXT_HTML)
                        .render("admin/" + name, m)));
    }
}
