package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class ApiKeysTest {

    @Test
    void plainAndHashedEntriesAreBothAccepted() {
        String digest = HexFormat.of().formatHex(ApiKeys.sha256("hashed-key"));
        ApiKeys keys = ApiKeys.of(List.of("plain-key", "sha256:" + digest.toUpperCase()));
        assertTrue(keys.enabled());
        assertTrue(keys.accepts("plain-key"));
        assertTrue(keys.accepts("hashed-key"));
        assertFalse(keys.accepts("sha256:" + digest), "the digest itself is not a key");
        assertFalse(keys.accepts("plain-key "));
        assertFalse(keys.accepts(""));
    }

    @Test
    void noEntriesMeansOpen() {
        assertFalse(ApiKeys.of(List.of()).enabled());
    }

    @Test
    void aMalformedDigestFailsAtStart() {
        assertThrows(IllegalArgumentException.class, () -> ApiKeys.of(List.of("sha256:abc")));
        assertThrows(IllegalArgumentException.class, () -> ApiKeys.of(List.of("sha256:" + "z".repeat(64))));
    }
}
