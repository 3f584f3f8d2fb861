package io.dmsserve.api;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * The real server on a random port with the embedded model, default API settings (open, 1 MB bodies). Every
 * class using it shares one Spring context (same properties), so the model loads once per test run.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"dms.kv-cache.memory=64MB", "dms.cpu.threads=2"})
@interface ApiServer {
}
