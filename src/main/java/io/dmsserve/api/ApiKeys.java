package io.dmsserve.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * The configured API keys, kept only as SHA-256 digests. A presented key is hashed and compared with every
 * digest in constant time (MessageDigest.isEqual, no early exit), so timing reveals neither key nor position.
 */
final class ApiKeys {

    private static final String SHA256 = "sha256:";

    private final List<byte[]> digests;

    private ApiKeys(List<byte[]> digests) {
        this.digests = digests;
    }

    /** Entries are {@code sha256:<64 hex digits>} or a plain key. */
    static ApiKeys of(List<String> entries) {
        List<byte[]> digests = new ArrayList<>();
        for (String entry : entries) {
            if (entry.toLowerCase(Locale.ROOT).startsWith(SHA256)) {
                String hex = entry.substring(SHA256.length()).strip();
                if (hex.length() != 64 || !hex.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
                    throw new IllegalArgumentException("dms.api.keys: a sha256: entry needs 64 hex digits, got "
                            + hex.length() + " characters");
                }
                digests.add(HexFormat.of().parseHex(hex.toLowerCase(Locale.ROOT)));
            } else {
                digests.add(sha256(entry));
            }
        }
        return new ApiKeys(List.copyOf(digests));
    }

    boolean enabled() {
        return !digests.isEmpty();
    }

    boolean accepts(String key) {
        byte[] presented = sha256(key);
        boolean match = false;
        for (byte[] digest : digests) {
            match |= MessageDigest.isEqual(digest, presented);
        }
        return match;
    }

    static byte[] sha256(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
