package io.dmsserve.config;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Works around a Reactor Netty 1.3.x bug (reactor/reactor-netty#4361, fix in PR #4347, unreleased in 1.3.6):
 * on a keep-alive connection, a request that arrives before the previous request's operations have
 * terminated is buffered and may never be read, so the client hangs until it times out. OpenAI SDKs reuse
 * connections and send their next request at once, which hits it. Reactor Netty's own stopgap,
 * {@code reactor.netty.http.server.lastFlushWhenNoRead=true}, terminates the previous operations at their
 * last flush, so the next request is dispatched at once. The property is read once, when Reactor Netty's
 * HTTP handler class loads, i.e. before the first connection; an explicit setting wins. Remove this class
 * once the project is on a Reactor Netty release with the fix.
 */
@Configuration(proxyBeanMethods = false)
class ReactorNettyKeepAlive {

    static final String PROPERTY = "reactor.netty.http.server.lastFlushWhenNoRead";

    private static final Logger log = LoggerFactory.getLogger(ReactorNettyKeepAlive.class);

    @Bean
    WebServerFactoryCustomizer<NettyReactiveWebServerFactory> reactorNettyKeepAliveWorkaround() {
        return factory -> {
            if (System.getProperty(PROPERTY) == null) {
                System.setProperty(PROPERTY, "true");
                log.debug("set {}=true (reactor-netty#4361 keep-alive workaround)", PROPERTY);
            }
        };
    }
}
