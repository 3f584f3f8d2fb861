package io.dmsserve.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;

/**
 * The dashboard's security and JSON API on the real server, as a script or an attacker sees them over HTTP:
 * login, roles, CSRF, Problem Details, headers, the login limit; /v1 and /actuator/prometheus untouched; health
 * details for logged-in users only; a change shows in the metrics at once and lands in the file and audit log.
 */
@AdminServer
class AdminSecurityIT {

    @LocalServerPort
    int port;

    @Autowired
    AdminControls controls;

    AdminClient anonymous;

    @BeforeEach
    void setUp() {
        anonymous = new AdminClient(port);
    }

    private AdminClient loggedIn(String user, String password) {
        AdminClient client = new AdminClient(port);
        HttpResponse<String> login = client.login(user, password);
        assertThat(login.statusCode()).isEqualTo(302);
        assertThat(login.headers().firstValue("Location")).hasValue("/admin");
        return client;
    }

    @Test
    void anonymousVisitorsAreSentToTheLoginPageAndScriptsGet401() {
        for (String page : new String[] {"/admin", "/admin/cache", "/admin/requests", "/admin/retention",
            "/admin/settings", "/admin/events"}) {
            HttpResponse<String> response = anonymous.get(page);
            assertThat(response.statusCode()).as(page).isEqualTo(302);
            assertThat(response.headers().firstValue("Location")).as(page).hasValue("/admin/login");
        }
        HttpResponse<String> api = anonymous.get("/admin/api/settings");
        assertThat(api.statusCode()).isEqualTo(401);
        assertThat(api.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(AdminClient.parse(api).get("status").asInt()).isEqualTo(401);
        // Anonymous changes: refused before anything is read (CSRF first: there is no token in this session).
        assertThat(anonymous.json("PUT", "/admin/api/settings", "{\"threshold\":3}", null).statusCode())
                .isEqualTo(403);
        assertThat(anonymous.json("PUT", "/admin/api/settings", "{\"threshold\":3}", anonymous.csrf()).statusCode())
                .isEqualTo(401);
        assertThat(anonymous.get("/admin/login").statusCode()).isEqualTo(200);
        // Spring Security's firewall refuses odd paths before any chain, with a Problem Details under /admin.
        HttpResponse<String> odd = anonymous.get("/admin//settings");
        assertThat(odd.statusCode()).isEqualTo(400);
        assertThat(odd.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(AdminClient.parse(odd).get("type").asString()).endsWith("/rejected-path");
    }

    @Test
    void aViewerSeesEverythingAndChangesNothing() {
        AdminClient viewer = loggedIn("viewer", "viewer-pass");
        for (String page : new String[] {"/admin", "/admin/cache", "/admin/requests", "/admin/retention",
            "/admin/settings"}) {
            assertThat(viewer.get(page).statusCode()).as(page).isEqualTo(200);
        }
        assertThat(AdminClient.parse(viewer.get("/admin/api/settings")).path("settings").has("threshold")).isTrue();
        HttpResponse<String> unknown = viewer.get("/admin/api/thresholds");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(unknown.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        AdminSettings before = controls.current();
        HttpResponse<String> change = viewer.json("PUT", "/admin/api/settings", "{\"threshold\":3}", viewer.csrf());
        assertThat(change.statusCode()).isEqualTo(403);
        assertThat(AdminClient.parse(change).get("detail").asString()).contains("ADMIN role");
        HttpResponse<String> form = viewer.form("/admin/settings", Map.of("threshold", "3", "window", "16",
                "maxRunning", "8", "maxWaiting", "8", "_csrf", viewer.csrf()));
        assertThat(form.statusCode()).isEqualTo(403);
        assertThat(controls.current()).isEqualTo(before);
    }

    @Test
    void anAdminChangesThroughTheApiWithTheCsrfTokenOnlyAndTheMetricsShowItAtOnce() throws Exception {
        AdminClient admin = loggedIn("admin", "admin-pass");
        HttpResponse<String> noToken = admin.json("PUT", "/admin/api/settings", "{\"threshold\":2.5}", null);
        assertThat(noToken.statusCode()).isEqualTo(403);
        assertThat(AdminClient.parse(noToken).get("detail").asString()).contains("CSRF token");
        assertThat(admin.json("PUT", "/admin/api/settings", "{\"threshold\":2.5}", "forged").statusCode())
                .isEqualTo(403);
        assertThat(controls.current().threshold()).isNotEqualTo(2.5f);

        HttpResponse<String> ok = admin.json("PUT", "/admin/api/settings", "{\"threshold\":2.5,\"maxWaiting\":40}",
                admin.csrf());
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(AdminClient.parse(ok).path("settings").get("threshold").asDouble()).isEqualTo(2.5);
        // Prometheus scrapes without any credentials, and sees the new threshold on the next scrape.
        HttpResponse<String> scrape = anonymous.get("/actuator/prometheus");
        assertThat(scrape.statusCode()).isEqualTo(200);
        assertThat(scrape.body()).contains("dms_eviction_threshold{model=\"tiny-qwen3-dms\",policy=\"dms\"} 2.5");

        Path file = controls.store().settingsFile();
        assertThat(Files.readString(file)).contains("\"threshold\" : 2.5").contains("\"maxWaiting\" : 40");
        JsonNode audit = AdminClient.parse(admin.get("/admin/api/audit"));
        assertThat(audit.get(0).get("user").asString()).isEqualTo("admin");
        assertThat(Files.readString(controls.store().auditFile())).contains("\"newValue\":\"2.5\"");

        HttpResponse<String> invalid = admin.json("PUT", "/admin/api/settings",
                "{\"threshold\":1e9,\"window\":0,\"maxRunning\":0}", admin.csrf());
        assertThat(invalid.statusCode()).isEqualTo(400);
        assertThat(invalid.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode problem = AdminClient.parse(invalid);
        assertThat(problem.get("type").asString()).endsWith("/invalid-settings");
        assertThat(problem.get("errors").propertyNames()).containsExactlyInAnyOrder("threshold", "window",
                "maxRunning");
        HttpResponse<String> typo = admin.json("PUT", "/admin/api/settings", "{\"treshold\":1}", admin.csrf());
        assertThat(typo.statusCode()).isEqualTo(400);
        assertThat(AdminClient.parse(typo).get("detail").asString()).contains("treshold");
        assertThat(admin.json("PUT", "/admin/api/settings", "{\"threshold\":0}", admin.csrf()).statusCode())
                .isEqualTo(200);
    }

    @Test
    void pagesCarryTheSecurityHeadersAndNoInlineScriptOrStyle() {
        AdminClient viewer = loggedIn("viewer", "viewer-pass");
        for (String page : new String[] {"/admin", "/admin/cache", "/admin/settings", "/admin/login"}) {
            HttpResponse<String> response = viewer.get(page);
            assertThat(response.headers().firstValue("Content-Security-Policy")).as(page).hasValue(AdminSecurity.CSP);
            assertThat(response.headers().firstValue("X-Frame-Options")).as(page).hasValue("DENY");
            assertThat(response.headers().firstValue("X-Content-Type-Options")).as(page).hasValue("nosniff");
            String html = response.body();
            assertThat(html).as(page).doesNotContainPattern("<script(?![^>]*\\bsrc=)")
                    .doesNotContainPattern("\\son[a-z]+=").doesNotContain("style=").doesNotContain("<style");
        }
        assertThat(viewer.get("/admin/static/admin.js").statusCode()).isEqualTo(200);
    }

    @Test
    void theApiAndTheScrapeAreUntouchedAndHealthDetailsNeedALogin() {
        HttpResponse<String> chat = anonymous.json("POST", "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}", null);
        assertThat(chat.statusCode()).as("no CSRF, no session on /v1").isEqualTo(200);
        assertThat(chat.headers().firstValue("X-Frame-Options")).as("no admin headers on the API").isEmpty();
        assertThat(anonymous.get("/actuator/prometheus").statusCode()).isEqualTo(200);
        JsonNode open = AdminClient.parse(anonymous.get("/actuator/health"));
        assertThat(open.get("status").asString()).isEqualTo("UP");
        assertThat(open.has("components")).as("no details for anonymous callers").isFalse();
        JsonNode details = AdminClient.parse(loggedIn("viewer", "viewer-pass").get("/actuator/health"));
        JsonNode model = details.path("components").path("model").path("details");
        assertThat(model.path("model").asString()).isEqualTo("tiny-qwen3-dms");
        assertThat(model.path("loaded").asBoolean()).as("the port opens after loading").isTrue();
        assertThat(model.path("loadSeconds").asDouble()).as("how long loading took").isPositive();
        assertThat(model.has("weightsToDeviceBytes")).as("the CPU backend reads its weights in place").isFalse();
    }

    @Test
    void wrongPasswordsAreRateLimited() {
        AdminClient guesser = new AdminClient(port);
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> wrong = guesser.login("ghost", "guess" + i);
            assertThat(wrong.statusCode()).isEqualTo(302);
            assertThat(wrong.headers().firstValue("Location")).hasValue("/admin/login?error");
        }
        HttpResponse<String> limited = guesser.login("ghost", "guess3");
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("Retry-After")).isPresent();
        // Another name from the same address still may (until 4 x 3 failures).
        assertThat(new AdminClient(port).login("viewer", "viewer-pass").statusCode()).isEqualTo(302);
    }

    @Test
    void logoutEndsTheSession() {
        AdminClient viewer = loggedIn("viewer", "viewer-pass");
        HttpResponse<String> out = viewer.form("/admin/logout", Map.of("_csrf", viewer.csrf()));
        assertThat(out.statusCode()).isEqualTo(302);
        assertThat(out.headers().firstValue("Location")).hasValue("/admin/login?logout");
        assertThat(viewer.get("/admin").statusCode()).isEqualTo(302);
    }
}
