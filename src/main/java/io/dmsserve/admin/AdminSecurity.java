package io.dmsserve.admin;

import io.dmsserve.config.AdminProperties;
import io.dmsserve.config.ServingModel;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.security.config.annotation.web.reactive.EnableWebFluxSecurity;
import org.springframework.security.config.web.server.SecurityWebFiltersOrder;
import org.springframework.security.config.web.server.ServerHttpSecurity;
import org.springframework.security.core.userdetails.ReactiveUserDetailsService;
import org.springframework.security.core.userdetails.UserDetails;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.web.server.DelegatingServerAuthenticationEntryPoint;
import org.springframework.security.web.server.SecurityWebFilterChain;
import org.springframework.security.web.server.authentication.RedirectServerAuthenticationEntryPoint;
import org.springframework.security.web.server.authentication.RedirectServerAuthenticationFailureHandler;
import org.springframework.security.web.server.authentication.RedirectServerAuthenticationSuccessHandler;
import org.springframework.security.web.server.authentication.logout.RedirectServerLogoutSuccessHandler;
import org.springframework.security.web.server.authorization.ServerAccessDeniedHandler;
import org.springframework.security.web.server.firewall.ServerExchangeRejectedHandler;
import org.springframework.security.web.server.header.XFrameOptionsServerHttpHeadersWriter;
import org.springframework.security.web.server.util.matcher.ServerWebExchangeMatcher;
import org.springframework.security.web.server.util.matcher.ServerWebExchangeMatchers;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import reactor.core.publisher.Mono;

/**
 * Who may do what. Two filter chains: {@code /admin/**} needs a login (form login, session cookie), VIEWER reads
 * and ADMIN changes, every unsafe method needs the CSRF token, the pages carry a strict CSP (no inline script or
 * style), frame denial and no-sniff, and failed logins are rate-limited. Everything else (the OpenAI API under
 * /v1 with its own key filter, the actuator with /actuator/prometheus for scrapers) passes this layer untouched,
 * but a logged-in session is still recognised there, which is what shows health details to logged-in users only
 * ({@code management.endpoint.health.show-details=when-authorized}).
 */
@Configuration(proxyBeanMethods = false)
@EnableWebFluxSecurity
class AdminSecurity {

    private static final Logger log = LoggerFactory.getLogger(AdminSecurity.class);

    /** No inline script or style anywhere: the pages load /admin/static/*.js and *.css only. */
    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
            + " connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
            + " frame-ancestors 'none'";
    static final String LOGIN = "/admin/login";

    @Bean
    ReactiveUserDetailsService adminUserDetails(AdminProperties properties, ServingModel model) {
        // INFO, not WARN: a plain CPU start of the embedded model logs no warning (PackagedJarIT checks).
        Map<String, UserDetails> users = AdminUsers.of(properties.users(), model.embedded(), password -> log.info(
                "\n\n    Admin dashboard: user '{}', generated password: {}\n    (printed once; the embedded model"
                        + " only. Configure dms.admin.users for a real deployment: see the README.)\n",
                AdminUsers.GENERATED_USER, password));
        if (users.isEmpty()) {
            log.info("The admin dashboard has no users: nobody can log in to /admin until dms.admin.users lists some");
        }
        // A copy per lookup: the authentication manager erases the password of what it is given.
        return name -> Mono.justOrEmpty(users.get(name)).map(u -> User.withUserDetails(u).build());
    }

    @Bean
    LoginAttempts loginAttempts(AdminProperties properties) {
        return new LoginAttempts(properties.loginAttempts(), properties.loginLockout(), System::currentTimeMillis);
    }

    /**
     * Spring Security's firewall refuses suspicious paths (an empty segment as in {@code /v1/chat//completions}, an
     * encoded slash, ...) before any chain; its default answer is a bare 400. This gives it the body a client of
     * that path understands: OpenAI's error shape outside /admin, a Problem Details inside.
     */
    @Bean
    ServerExchangeRejectedHandler rejectedExchanges() {
        return (exchange, e) -> {
            String path = exchange.getRequest().getPath().value();
            String message = "The request path was refused: it has an empty segment, an encoded slash or another"
                    + " character a path must not have";
            if (path.startsWith("/admin")) {
                return Problems.write(exchange, Problems.problem(HttpStatus.BAD_REQUEST, "rejected-path",
                        "Rejected path", message));
            }
            var response = exchange.getResponse();
            response.setStatusCode(HttpStatus.BAD_REQUEST);
            response.getHeaders().setContentType(org.springframework.http.MediaType.APPLICATION_JSON);
            byte[] body = ("{\"error\":{\"message\":\"" + message + ".\",\"type\":\"invalid_request_error\","
                    + "\"param\":null,\"code\":\"invalid_path\"}}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
            return response.writeWith(Mono.just(response.bufferFactory().wrap(body)));
        };
    }

    @Bean
    @Order(Ordered.HIGHEST_PRECEDENCE)
    SecurityWebFilterChain adminFilterChain(ServerHttpSecurity http, LoginAttempts attempts) {
        ServerWebExchangeMatcher api = ServerWebExchangeMatchers.pathMatchers("/admin/api/**");
        ServerAccessDeniedHandler pageDenied = (exchange, e) -> forbiddenPage(exchange,
                e.getMessage().toLowerCase().contains("csrf")
                        ? "The form was sent without a valid CSRF token (an old page, or not from this site). Nothing"
                                + " was changed; reload the page and try again."
                        : "This needs the ADMIN role. Nothing was changed.");
        ServerAccessDeniedHandler denied = (exchange, e) -> api.matches(exchange).flatMap(m -> m.isMatch()
                ? Problems.write(exchange, Problems.problem(HttpStatus.FORBIDDEN, "forbidden", "Forbidden",
                        e.getMessage().toLowerCase().contains("csrf") ? "A change needs the CSRF token: send it in"
                                + " the X-CSRF-TOKEN header (GET /admin/api/csrf gives it for your session)"
                                : "This needs the ADMIN role"))
                : pageDenied.handle(exchange, e));
        DelegatingServerAuthenticationEntryPoint entry = new DelegatingServerAuthenticationEntryPoint(
                new DelegatingServerAuthenticationEntryPoint.DelegateEntry(api, (exchange, e) -> Problems.write(
                        exchange, Problems.problem(HttpStatus.UNAUTHORIZED, "unauthorized", "Unauthorized",
                                "Log in first: POST /admin/login (form fields username, password and _csrf)"))));
        entry.setDefaultEntryPoint(new RedirectServerAuthenticationEntryPoint(LOGIN));
        RedirectServerAuthenticationFailureHandler failed = new RedirectServerAuthenticationFailureHandler(
                LOGIN + "?error");
        RedirectServerAuthenticationSuccessHandler succeeded = new RedirectServerAuthenticationSuccessHandler("/admin");
        RedirectServerLogoutSuccessHandler loggedOut = new RedirectServerLogoutSuccessHandler();
        loggedOut.setLogoutSuccessUrl(URI.create(LOGIN + "?logout"));
        return http
                .securityMatcher(ServerWebExchangeMatchers.pathMatchers("/admin", "/admin/**"))
                .authorizeExchange(exchanges -> exchanges
                        .pathMatchers(LOGIN, "/admin/static/**").permitAll()
                        .pathMatchers(HttpMethod.GET, "/admin/api/csrf").permitAll()
                        .pathMatchers(HttpMethod.GET, "/admin", "/admin/**").hasAnyRole("VIEWER", "ADMIN")
                        // Running a prompt for the retention view reads the model and changes nothing.
                        .pathMatchers(HttpMethod.POST, "/admin/retention", "/admin/api/retention")
                                .hasAnyRole("VIEWER", "ADMIN")
                        .pathMatchers(HttpMethod.POST, "/admin/logout").authenticated()
                        .anyExchange().hasRole("ADMIN"))
                .formLogin(form -> form.loginPage(LOGIN)
                        .authenticationFailureHandler((filterExchange, e) -> remember(filterExchange.getExchange(),
                                attempts, false).then(failed.onAuthenticationFailure(filterExchange, e)))
                        .authenticationSuccessHandler((filterExchange, auth) -> remember(filterExchange.getExchange(),
                                attempts, true).then(succeeded.onAuthenticationSuccess(filterExchange, auth))))
                .logout(logout -> logout.logoutUrl("/admin/logout").logoutSuccessHandler(loggedOut))
                .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
                .exceptionHandling(e -> e.authenticationEntryPoint(entry).accessDeniedHandler(denied))
                .csrf(csrf -> csrf.accessDeniedHandler(denied))
                .headers(headers -> headers
                        .contentSecurityPolicy(csp -> csp.policyDirectives(CSP))
                        .frameOptions(frame -> frame.mode(XFrameOptionsServerHttpHeadersWriter.Mode.DENY))
                        .referrerPolicy(referrer -> { }))
                .addFilterBefore(loginLimit(attempts), SecurityWebFiltersOrder.FORM_LOGIN)
                .build();
    }

    /**
     * Everything outside /admin: no login, no CSRF (API clients send no cookies; /v1 has its own key filter),
     * no headers added to the API's responses. The session's security context is still loaded, for health details.
     */
    @Bean
    @Order(Ordered.LOWEST_PRECEDENCE)
    SecurityWebFilterChain openFilterChain(ServerHttpSecurity http) {
        return http
                .authorizeExchange(exchanges -> exchanges.anyExchange().permitAll())
                .csrf(ServerHttpSecurity.CsrfSpec::disable)
                .httpBasic(ServerHttpSecurity.HttpBasicSpec::disable)
                .formLogin(ServerHttpSecurity.FormLoginSpec::disable)
                .logout(ServerHttpSecurity.LogoutSpec::disable)
                .requestCache(ServerHttpSecurity.RequestCacheSpec::disable)
                .headers(ServerHttpSecurity.HeaderSpec::disable)
                .build();
    }

    /** A plain page (no script, no style) saying why, instead of the browser's bare error page. */
    private static Mono<Void> forbiddenPage(ServerWebExchange exchange, String why) {
        var response = exchange.getResponse();
        response.setStatusCode(HttpStatus.FORBIDDEN);
        response.getHeaders().setContentType(org.springframework.http.MediaType.TEXT_HTML);
        String html = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>403 Forbidden</title>"
                + "<link rel=\"stylesheet\" href=\"/admin/static/admin.css\"></head><body><main><h1 id=\"forbidden\">"
                + "403 Forbidden</h1><p id=\"forbidden-reason\">" + why + "</p><p><a href=\"/admin\">Back to the"
                + " dashboard</a></p></main></body></html>";
        byte[] body = html.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return response.writeWith(Mono.just(response.bufferFactory().wrap(body)));
    }

    /** Before the login filter: an address and name with too many failures get 429 without a password check. */
    private static WebFilter loginLimit(LoginAttempts attempts) {
        return (exchange, chain) -> {
            if (exchange.getRequest().getMethod() != HttpMethod.POST
                    || !exchange.getRequest().getPath().pathWithinApplication().value().equals(LOGIN)) {
                return chain.filter(exchange);
            }
            return exchange.getFormData().flatMap(form -> {
                long wait = attempts.retryAfterSeconds(address(exchange), form.getFirst("username"));
                if (wait == 0) {
                    return chain.filter(exchange);
                }
                var response = exchange.getResponse();
                response.setStatusCode(HttpStatus.TOO_MANY_REQUESTS);
                response.getHeaders().set("Retry-After", Long.toString(wait));
                response.getHeaders().setContentType(org.springframework.http.MediaType.TEXT_PLAIN);
                byte[] body = ("Too many failed logins: try again in " + wait + " s.\n")
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8);
                return response.writeWith(Mono.just(response.bufferFactory().wrap(body)));
            });
        };
    }

    private static Mono<Void> remember(ServerWebExchange exchange, LoginAttempts attempts, boolean success) {
        return exchange.getFormData().doOnNext(form -> {
            String user = form.getFirst("username");
            if (success) {
                attempts.succeeded(address(exchange), user);
            } else {
                attempts.failed(address(exchange), user);
            }
        }).then();
    }

    static String address(ServerWebExchange exchange) {
        InetSocketAddress remote = exchange.getRequest().getRemoteAddress();
        return remote == null || remote.getAddress() == null ? "unknown" : remote.getAddress().getHostAddress();
    }
}
