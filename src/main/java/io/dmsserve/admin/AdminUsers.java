package io.dmsserve.admin;

import io.dmsserve.config.AdminProperties;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.core.userdetails.UserDetails;
import org.springframework.security.crypto.bcrypt.BCryptPasswordEncoder;

/**
 * The dashboard's users from {@code dms.admin.users}, whose passwords must be bcrypt hashes. With none
 * configured nobody can log in, except on the embedded model (a demo that serves gibberish), where a user
 * {@code admin} gets a random password that is printed once, at start, and never stored.
 */
final class AdminUsers {

    static final String GENERATED_USER = "admin";
    private static final Pattern BCRYPT = Pattern.compile("\\$2[aby]?\\$\\d\\d\\$[./0-9A-Za-z]{53}");

    private AdminUsers() {
    }

    /**
     * @param announce receives the generated password's announcement (once), when there is one
     * @throws IllegalArgumentException naming the user whose entry is incomplete or whose password is not a hash
     */
    static Map<String, UserDetails> of(List<AdminProperties.User> configured, boolean embeddedModel,
            Consumer<String> announce) {
        Map<String, UserDetails> users = new LinkedHashMap<>();
        for (int i = 0; i < configured.size(); i++) {
            AdminProperties.User user = configured.get(i);
            String at = "dms.admin.users[" + i + "]";
            if (user.name() == null || user.name().isBlank()) {
                throw new IllegalArgumentException(at + ".name is missing");
            }
            if (user.role() == null) {
                throw new IllegalArgumentException(at + ".role is missing (VIEWER or ADMIN) for user '" + user.name()
                        + "'");
            }
            String hash = user.password() == null ? "" : user.password().strip();
            if (hash.startsWith("{bcrypt}")) {
                hash = hash.substring("{bcrypt}".length());
            }
            if (!BCRYPT.matcher(hash).matches()) {
                throw new IllegalArgumentException(at + ".password of user '" + user.name() + "' is not a bcrypt hash;"
                        + " plain-text passwords are refused. Make one with: htpasswd -nbBC 12 '' 'PASSWORD' | tr -d"
                        + " ':\\n'   (or python3 -c \"import bcrypt; print(bcrypt.hashpw(b'PASSWORD',"
                        + " bcrypt.gensalt()).decode())\")");
            }
            if (users.containsKey(user.name())) {
                throw new IllegalArgumentException(at + ": user '" + user.name() + "' is listed twice");
            }
            users.put(user.name(), User.withUsername(user.name()).password("{bcrypt}" + hash)
                    .roles(user.role().name()).build());
        }
        if (users.isEmpty() && embeddedModel) {
            byte[] random = new byte[18];
            new SecureRandom().nextBytes(random);
            String password = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            users.put(GENERATED_USER, User.withUsername(GENERATED_USER)
                    .password("{bcrypt}" + new BCryptPasswordEncoder().encode(password))
                    .roles(AdminProperties.Role.ADMIN.name()).build());
            announce.accept(password);
        }
        return users;
    }
}
