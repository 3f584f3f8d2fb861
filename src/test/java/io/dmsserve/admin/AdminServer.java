package io.dmsserve.admin;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.boot.test.context.SpringBootTest;

/**
 * The real server on a random port with the embedded model and two dashboard users (viewer / viewer-pass, admin /
 * admin-pass, bcrypt hashes of cost 4 to keep logins fast), its settings file in a fresh temporary directory per
 * context (random.uuid is resolved once, when the properties bind). Shared by the admin ITs: one context, one
 * model load.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
    "dms.kv-cache.memory=16MB", "dms.cpu.threads=2",
    "dms.admin.settings-file=${java.io.tmpdir}/dms-admin-it-${random.uuid}/settings.json",
    "dms.admin.users[0].name=viewer", "dms.admin.users[0].role=VIEWER",
    "dms.admin.users[0].password={bcrypt}" + AdminUsersTest.VIEWER_HASH,
    "dms.admin.users[1].name=admin", "dms.admin.users[1].role=ADMIN",
    "dms.admin.users[1].password=" + AdminUsersTest.ADMIN_HASH,
    "dms.admin.login-attempts=3", "dms.admin.login-lockout=60s"})
@interface AdminServer {
}
