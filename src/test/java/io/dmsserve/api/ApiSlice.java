package io.dmsserve.api;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.boot.security.autoconfigure.ReactiveUserDetailsServiceAutoConfiguration;
import org.springframework.boot.security.autoconfigure.SecurityAutoConfiguration;
import org.springframework.boot.security.autoconfigure.web.reactive.ReactiveWebSecurityAutoConfiguration;
import org.springframework.boot.webflux.test.autoconfigure.WebFluxTest;
import org.springframework.context.annotation.Import;
import org.springframework.core.annotation.AliasFor;

/**
 * The API as a {@code @WebFluxTest} slice, driven through WebTestClient without a port: routes, handlers,
 * request parsing, the key filter and the error mapping are the real beans; the model is {@link SliceModel}
 * (the tiny model's real tokenizer and chat template, no weights) and the scheduler a Mockito double that each
 * test drives with {@link FakeScheduler}. Spring Security's auto-configuration is left out: in the server /v1 passes
 * the security layer untouched (io.dmsserve.admin.AdminSecurity's open chain; AuthIT and AdminSecurityIT check
 * that on the real server), and the slice's default would ask every request for a login. {@code @WebFluxTest} picks up the WebFilter and WebExceptionHandler
 * ({@code ApiKeyFilter}, {@code ApiErrorHandler}) by itself; the functional routes and the handlers, plain
 * components, are imported here.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@WebFluxTest(excludeAutoConfiguration = {SecurityAutoConfiguration.class, ReactiveWebSecurityAutoConfiguration.class,
    ReactiveUserDetailsServiceAutoConfiguration.class})
@Import({ApiRoutes.class, ChatCompletionsHandler.class, CompletionsHandler.class, ModelsHandler.class,
    RequestBodies.class, Prompts.class, Generator.class, ChatOutputs.class, Constraints.class, SliceModel.class, SliceModel.JsonOnlyProbe.class})
@interface ApiSlice {

    @AliasFor(annotation = WebFluxTest.class, attribute = "properties")
    String[] properties() default {};
}
