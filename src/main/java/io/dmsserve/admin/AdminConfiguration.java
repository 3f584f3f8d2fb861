package io.dmsserve.admin;

import static org.springframework.web.reactive.function.server.RequestPredicates.GET;
import static org.springframework.web.reactive.function.server.RequestPredicates.POST;
import static org.springframework.web.reactive.function.server.RequestPredicates.PUT;

import io.dmsserve.config.AdminProperties;
import io.dmsserve.config.ModelLoad;
import io.dmsserve.config.ServingModel;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.StepExecutor;
import java.nio.file.Path;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.RouterFunctions;
import org.springframework.web.reactive.function.server.ServerResponse;

/**
 * The admin dashboard's beans and routes: pages under /admin (Thymeleaf), the live feed /admin/events (SSE), the
 * JSON API under /admin/api. Functional routes, like the OpenAI API's, so slices of other features do not pick
 * them up. Who may call what is {@link AdminSecurity}'s.
 */
@Configuration(proxyBeanMethods = false)
class AdminConfiguration {

    @Bean
    AdminControls adminControls(EvictionPolicy policy, Scheduler scheduler, StepExecutor executor,
            AdminProperties properties) {
        return new AdminControls(policy, scheduler, new SettingsStore(Path.of(properties.settingsFile())),
                executor.cache().layers());
    }

    @Bean(destroyMethod = "close")
    Dashboard dashboard(ServingModel model, ModelLoad load, Scheduler scheduler, StepExecutor executor,
            AdminControls controls, AdminProperties properties) {
        return new Dashboard(model, load, scheduler, executor.cache(), controls, properties.showPrompts());
    }

    @Bean
    AdminHandlers adminHandlers(Dashboard dashboard, AdminControls controls, Scheduler scheduler, ServingModel model,
            AdminProperties properties) {
        return new AdminHandlers(dashboard, controls, scheduler, model, properties);
    }

    @Bean
    RouterFunction<ServerResponse> adminRoutes(AdminHandlers handlers) {
        return RouterFunctions.route()
                .GET("/admin/login", handlers::login)
                .GET("/admin", handlers::overview)
                .GET("/admin/cache", handlers::cache)
                .GET("/admin/requests", handlers::requests)
                .GET("/admin/retention", handlers::retentionPage)
                .POST("/admin/retention", handlers::retentionRun)
                .GET("/admin/settings", handlers::settingsPage)
                .POST("/admin/settings", handlers::settingsSave)
                .GET("/admin/events", handlers::events)
                .route(GET("/admin/api/csrf"), handlers::apiCsrf)
                .route(GET("/admin/api/settings"), handlers::apiSettings)
                .route(PUT("/admin/api/settings"), handlers::apiChange)
                .route(GET("/admin/api/snapshot"), handlers::apiSnapshot)
                .route(GET("/admin/api/audit"), handlers::apiAudit)
                .route(POST("/admin/api/retention"), handlers::apiRetention)
                // Scripts get Problem Details for a wrong path too, not the HTML or JSON default of the server.
                .route(org.springframework.web.reactive.function.server.RequestPredicates.path("/admin/api/**"),
                        request -> Problems.respond(Problems.problem(org.springframework.http.HttpStatus.NOT_FOUND,
                                "not-found", "Not Found", request.method() + " " + request.path()
                                        + " is not part of the admin API (README, \"JSON API for scripts\")")))
                .build();
    }
}
