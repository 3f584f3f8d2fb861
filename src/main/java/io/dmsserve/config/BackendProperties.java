package io.dmsserve.config;

import io.dmsserve.engine.BackendKind;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code dms.*}: the engine as a whole.
 *
 * @param backend which backend runs the model: auto (cuda when a device and the kernels are there, else cpu),
 *     cpu, or cuda
 */
@ConfigurationProperties("dms")
public record BackendProperties(@DefaultValue("auto") BackendKind backend) {
}
