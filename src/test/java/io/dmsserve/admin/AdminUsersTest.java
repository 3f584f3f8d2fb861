package io.dmsserve.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.config.AdminProperties;
import io.dmsserve.config.AdminProperties.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.security.core.userdetails.UserDetails;
import org.springframework.security.crypto.factory.PasswordEncoderFactories;
import org.springframework.security.crypto.password.PasswordEncoder;

class AdminUsersTest {

    static final String VIEWER_HASH = "$2a$04$vtcUB86pGs64T6UGq0W0X.3h7u3iEEmJf09ieo.YWl3GdfbNXg1ei"; // viewer-pass
    static final String ADMIN_HASH = "$2a$04$yUv7jir4PFiLZxn6fivIGOfsowLsWThgi8C4x4UEsYyUM/PERtnxi"; // admin-pass
    private final PasswordEncoder encoder = PasswordEncoderFactories.createDelegatingPasswordEncoder();

    @Test
    void configuredUsersKeepTheirHashAndRole() {
        List<String> printed = new ArrayList<>();
        Map<String, UserDetails> users = AdminUsers.of(List.of(new AdminProperties.User("ann", VIEWER_HASH, Role.VIEWER),
                new AdminProperties.User("bob", "{bcrypt}" + ADMIN_HASH, Role.ADMIN)), true, printed::add);
        assertThat(printed).as("configured users: nothing generated, even on the embedded model").isEmpty();
        assertThat(encoder.matches("viewer-pass", users.get("ann").getPassword())).isTrue();
        assertThat(encoder.matches("admin-pass", users.get("ann").getPassword())).isFalse();
        assertThat(users.get("ann").getAuthorities()).extracting(Object::toString).containsExactly("ROLE_VIEWER");
        assertThat(users.get("bob").getAuthorities()).extracting(Object::toString).containsExactly("ROLE_ADMIN");
    }

    @Test
    void theEmbeddedModelAloneGetsAGeneratedPasswordPrintedOnce() {
        List<String> printed = new ArrayList<>();
        Map<String, UserDetails> users = AdminUsers.of(List.of(), true, printed::add);
        assertThat(printed).hasSize(1);
        assertThat(printed.get(0)).hasSizeGreaterThanOrEqualTo(20);
        assertThat(encoder.matches(printed.get(0), users.get("admin").getPassword())).isTrue();
        assertThat(users.get("admin").getPassword()).doesNotContain(printed.get(0));
        List<String> again = new ArrayList<>();
        AdminUsers.of(List.of(), true, again::add);
        assertThat(again.get(0)).as("random each start").isNotEqualTo(printed.get(0));

        List<String> none = new ArrayList<>();
        assertThat(AdminUsers.of(List.of(), false, none::add)).as("a real model: no default user at all").isEmpty();
        assertThat(none).isEmpty();
    }

    @Test
    void plainPasswordsAndIncompleteEntriesAreRefusedByName() {
        assertThatThrownBy(() -> AdminUsers.of(List.of(new AdminProperties.User("ann", "secret", Role.ADMIN)), false,
                p -> { })).hasMessageContaining("dms.admin.users[0].password of user 'ann' is not a bcrypt hash")
                .hasMessageContaining("htpasswd");
        assertThatThrownBy(() -> AdminUsers.of(List.of(new AdminProperties.User("ann", "{noop}secret", Role.ADMIN)),
                false, p -> { })).hasMessageContaining("not a bcrypt hash");
        assertThatThrownBy(() -> AdminUsers.of(List.of(new AdminProperties.User("ann", VIEWER_HASH, null)), false,
                p -> { })).hasMessageContaining("dms.admin.users[0].role is missing");
        assertThatThrownBy(() -> AdminUsers.of(List.of(new AdminProperties.User(" ", VIEWER_HASH, Role.VIEWER)), false,
                p -> { })).hasMessageContaining("dms.admin.users[0].name is missing");
        assertThatThrownBy(() -> AdminUsers.of(List.of(new AdminProperties.User("ann", VIEWER_HASH, Role.VIEWER),
                new AdminProperties.User("ann", ADMIN_HASH, Role.ADMIN)), false, p -> { }))
                .hasMessageContaining("dms.admin.users[1]: user 'ann' is listed twice");
    }
}
