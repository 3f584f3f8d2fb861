package io.dmsserve.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The dashboard in a real headless Chromium (Debian's chromium and chromium-driver, which .ci/run installs), driven
 * by Selenium: a viewer sees the numbers move over SSE while clients load /v1, an admin moves the threshold and sees
 * the eviction rate fall to zero and come back, and changes are refused to a viewer, to an anonymous visitor and
 * without the CSRF token. Screenshots go to target/failsafe-reports/screenshots.
 */
@AdminServer
class AdminBrowserIT {

    static final Path SCREENSHOTS = Path.of("target/failsafe-reports/screenshots");
    private static final Duration WAIT = Duration.ofSeconds(30);

    @LocalServerPort
    int port;

    @Autowired
    AdminControls controls;

    private final List<WebDriver> browsers = new ArrayList<>();
    private final List<Path> profiles = new ArrayList<>();
    private Load load;

    @BeforeAll
    static void screenshots() throws IOException {
        Files.createDirectories(SCREENSHOTS);
    }

    @AfterEach
    void closeBrowsers() throws IOException {
        if (load != null) {
            load.close();
        }
        for (WebDriver browser : browsers) {
            browser.quit();
        }
        for (Path profile : profiles) {
            org.springframework.util.FileSystemUtils.deleteRecursively(profile);
        }
    }

    private WebDriver browser() throws IOException {
        Path profile = Files.createTempDirectory("dms-admin-chromium");
        profiles.add(profile);
        ChromeOptions options = new ChromeOptions();
        options.setBinary("/usr/bin/chromium");
        // Without the background-networking flags Chromium's own connections are refused on a closed network.
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000", "--user-data-dir=" + profile);
        // Debian's chromedriver, never one Selenium Manager would download; a service per browser, because quitting
        // a browser stops its service.
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File("/usr/bin/chromedriver")).usingAnyFreePort().build();
        WebDriver browser = new ChromeDriver(service, options);
        browsers.add(browser);
        return browser;
    }

    private String url(String path) {
        return "http://localhost:" + port + path;
    }

    private WebDriver logIn(String user, String password) throws IOException {
        WebDriver browser = browser();
        browser.get(url("/admin"));
        assertThat(browser.getCurrentUrl()).endsWith("/admin/login");
        browser.findElement(By.id("username")).sendKeys(user);
        browser.findElement(By.id("password")).sendKeys(password);
        browser.findElement(By.id("login-submit")).click();
        waitFor(browser, b -> b.getCurrentUrl().endsWith("/admin"));
        assertThat(browser.findElement(By.id("whoami")).getText()).startsWith(user);
        return browser;
    }

    private static <T> T waitFor(WebDriver browser, Function<WebDriver, T> condition) {
        try {
            return new WebDriverWait(browser, WAIT, Duration.ofMillis(200)).until(condition);
        } catch (org.openqa.selenium.TimeoutException e) {
            // What the browser shows, for the report: a timeout alone says nothing.
            String page = browser.getPageSource();
            throw new AssertionError("timed out on " + browser.getCurrentUrl() + " showing: "
                    + page.substring(0, Math.min(page.length(), 3000)), e);
        }
    }

    private static double number(WebDriver browser, String id) {
        String text = browser.findElement(By.id(id)).getText().replace("×", "").strip();
        return text.equals("-") || text.isEmpty() ? Double.NaN : Double.parseDouble(text);
    }

    private static void screenshot(WebDriver browser, String name) throws IOException {
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Files.copy(shot.toPath(), SCREENSHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }

    @Test
    void aViewerSeesTheNumbersMoveLiveWhileALoadRuns() throws Exception {
        WebDriver viewer = logIn("viewer", "viewer-pass");
        ((JavascriptExecutor) viewer).executeScript("window.loadedOnce = 'yes';");
        waitFor(viewer, b -> b.findElement(By.id("live")).getText().startsWith("live"));
        double before = number(viewer, "generated-tokens");
        load = new Load(port, 4);
        waitFor(viewer, b -> number(b, "generated-tokens") > before + 50);
        waitFor(viewer, b -> number(b, "running") > 0 && number(b, "live-tokens") > 0);
        waitFor(viewer, b -> number(b, "tokens-per-second") > 0);
        assertThat(((JavascriptExecutor) viewer).executeScript("return window.loadedOnce;"))
                .as("the numbers moved without a page load: over SSE").isEqualTo("yes");
        screenshot(viewer, "overview");

        viewer.get(url("/admin/cache"));
        waitFor(viewer, b -> b.findElements(By.className("hm-cell")).size() == 3 * 2);
        waitFor(viewer, b -> b.findElements(By.className("hm-cell")).stream()
                .anyMatch(c -> !c.getText().isEmpty() && Long.parseLong(c.getText()) > 0));
        waitFor(viewer, b -> number(b, "eviction-rate") > 0);
        screenshot(viewer, "cache");

        viewer.get(url("/admin/requests"));
        waitFor(viewer, b -> !b.findElements(By.cssSelector("#recent tbody tr")).isEmpty()
                && !b.findElements(By.cssSelector("#active tbody tr")).isEmpty());
        String firstRecent = viewer.findElement(By.cssSelector("#recent tbody tr")).getText();
        assertThat(firstRecent).as("no prompt text unless opted in").doesNotContain("tell me");
        screenshot(viewer, "requests");

        viewer.get(url("/admin/settings"));
        assertThat(viewer.findElement(By.id("viewer-note")).getText()).contains("only an ADMIN");
        assertThat(viewer.findElement(By.id("save")).isEnabled()).as("a viewer's form is disabled").isFalse();
    }

    @Test
    void anAdminMovesTheThresholdAndTheEvictionRateResponds() throws Exception {
        WebDriver admin = logIn("admin", "admin-pass");
        load = new Load(port, 4);
        admin.get(url("/admin/cache"));
        waitFor(admin, b -> number(b, "eviction-rate") > 0);

        setThreshold(admin, "10000");
        assertThat(admin.findElement(By.id("saved")).getText()).contains("Saved");
        assertThat(controls.current().threshold()).isEqualTo(10000f);
        assertThat(admin.findElement(By.cssSelector("#audit tbody tr")).getText()).contains("admin", "threshold",
                "10000.0");
        admin.get(url("/admin/cache"));
        // Nothing is flagged from the next step on; what was flagged before leaves within a window (16 tokens).
        waitFor(admin, b -> number(b, "eviction-rate") == 0.0);
        long steps = scrape("dms_scheduler_steps_total");
        waitFor(admin, b -> scrape("dms_scheduler_steps_total") > steps + 20);
        assertThat(number(admin, "eviction-rate")).as("still no evictions while the load runs").isZero();
        screenshot(admin, "cache-threshold-raised");

        setThreshold(admin, "0");
        admin.get(url("/admin/cache"));
        waitFor(admin, b -> number(b, "eviction-rate") > 0);

        admin.get(url("/admin/settings"));
        WebElement threshold = admin.findElement(By.id("thresholdInput"));
        threshold.clear();
        threshold.sendKeys("lots");
        admin.findElement(By.id("window")).clear();
        admin.findElement(By.id("window")).sendKeys("0");
        admin.findElement(By.id("save")).click();
        waitFor(admin, b -> !b.findElements(By.id("form-error")).isEmpty());
        assertThat(admin.findElement(By.id("threshold-error")).getText()).isEqualTo("'lots' is not a number");
        assertThat(admin.findElement(By.id("window-error")).getText()).startsWith("must be between 1 and");
        screenshot(admin, "settings-invalid");
        assertThat(controls.current().threshold()).isZero();
    }

    private void setThreshold(WebDriver admin, String value) {
        admin.get(url("/admin/settings"));
        WebElement threshold = admin.findElement(By.id("thresholdInput"));
        threshold.clear();
        threshold.sendKeys(value);
        admin.findElement(By.id("save")).click();
        waitFor(admin, b -> b.getCurrentUrl().endsWith("/admin/settings?saved"));
    }

    @Test
    void theRetentionViewShowsWhatEachHeadKeptAndForgot() throws Exception {
        WebDriver admin = logIn("admin", "admin-pass");
        admin.get(url("/admin/retention"));
        admin.findElement(By.id("prompt")).sendKeys("The quick brown fox jumps over the lazy dog, then naps under"
                + " the old oak tree until the sun goes down over the hills.");
        WebElement count = admin.findElement(By.id("max-tokens"));
        count.clear();
        count.sendKeys("24");
        admin.findElement(By.id("retention-run")).click();
        waitFor(admin, b -> !b.findElements(By.cssSelector("#tokens .tok")).isEmpty());
        String summary = admin.findElement(By.id("retention-summary")).getText();
        assertThat(summary).matches("\\d+ of \\d+ tokens held, \\d+ forgotten \\(window 16\\)");
        assertThat(admin.findElements(By.cssSelector("#tokens .tok.gone"))).as("DMS forgot some").isNotEmpty();
        assertThat(admin.findElements(By.cssSelector("#tokens .tok.held"))).isNotEmpty();
        String title = admin.findElement(By.cssSelector("#tokens .tok")).getDomAttribute("title");
        assertThat(title).contains("decision logit");
        new Select(admin.findElement(By.id("layer"))).selectByValue("2");
        new Select(admin.findElement(By.id("head"))).selectByValue("1");
        assertThat(admin.findElement(By.id("retention-summary")).getText()).isNotEmpty();
        screenshot(admin, "retention");
    }

    @Test
    void changesAreRefusedToAViewerAnonymouslyAndWithoutTheCsrfToken() throws Exception {
        AdminSettings before = controls.current();
        WebDriver anonymous = browser();
        anonymous.get(url("/admin/settings"));
        assertThat(anonymous.getCurrentUrl()).as("anonymous: to the login page").endsWith("/admin/login");

        WebDriver viewer = logIn("viewer", "viewer-pass");
        viewer.get(url("/admin/settings"));
        // Even with the disabled form forced open and sent, the server says no.
        ((JavascriptExecutor) viewer).executeScript("document.querySelector('fieldset').disabled = false;"
                + "document.getElementById('thresholdInput').value = '7';");
        viewer.findElement(By.id("save")).click();
        waitFor(viewer, b -> !b.findElements(By.id("forbidden")).isEmpty());
        assertThat(viewer.findElement(By.id("forbidden-reason")).getText()).contains("ADMIN role");
        assertThat(controls.current()).isEqualTo(before);

        WebDriver admin = logIn("admin", "admin-pass");
        admin.get(url("/admin/settings"));
        ((JavascriptExecutor) admin).executeScript("document.querySelector('#settings-form input[name=_csrf]').remove();"
                + "document.getElementById('thresholdInput').value = '7';");
        admin.findElement(By.id("save")).click();
        waitFor(admin, b -> !b.findElements(By.id("forbidden")).isEmpty());
        assertThat(admin.findElement(By.id("forbidden-reason")).getText()).contains("CSRF token");
        assertThat(controls.current()).as("without the CSRF token nothing changed").isEqualTo(before);
        screenshot(admin, "refused-without-csrf");
    }

    private long scrape(String series) {
        try {
            HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(url("/actuator/prometheus"))).build(), HttpResponse.BodyHandlers.ofString());
            return response.body().lines().filter(l -> l.startsWith(series + "{")).mapToLong(
                    l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Clients calling /v1/chat/completions back to back until closed. */
    static final class Load implements AutoCloseable {

        final AtomicBoolean running = new AtomicBoolean(true);
        final AtomicLong answered = new AtomicLong();
        private final List<Thread> threads = new ArrayList<>();

        Load(int port, int clients) {
            HttpClient http = HttpClient.newHttpClient();
            for (int i = 0; i < clients; i++) {
                int client = i;
                Thread thread = new Thread(() -> {
                    int n = 0;
                    while (running.get()) {
                        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"tell me a story number " + client
                                + "-" + (n++) + " about a lighthouse keeper and the sea\"}],\"max_tokens\":64,"
                                + "\"temperature\":0.8}";
                        try {
                            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(
                                    "http://localhost:" + port + "/v1/chat/completions"))
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                    HttpResponse.BodyHandlers.ofString());
                            if (response.statusCode() == 200) {
                                answered.incrementAndGet();
                            }
                        } catch (IOException e) {
                            // the server is going away at the end of the run
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }, "admin-it-load-" + i);
                thread.setDaemon(true);
                thread.start();
                threads.add(thread);
            }
        }

        @Override
        public void close() {
            running.set(false);
            for (Thread thread : threads) {
                try {
                    thread.join(30_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
