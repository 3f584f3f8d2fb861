package io.dmsserve.api;

/** Small string helpers for text that comes from clients. */
final class Text {

    private Text() {
    }

    /**
     * Replaces unpaired UTF-16 surrogates (JSON allows them as {@code \ud800} escapes) with U+FFFD, so the
     * text can be encoded as UTF-8 for the tokenizer and written back as JSON.
     */
    static String wellFormed(String s) {
        if (s == null) {
            return null;
        }
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean lone;
            if (Character.isHighSurrogate(c)) {
                lone = i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1));
                if (!lone) {
                    if (out != null) {
                        out.append(c).append(s.charAt(i + 1));
                    }
                    i++;
                    continue;
                }
            } else {
                lone = Character.isLowSurrogate(c);
            }
            if (lone && out == null) {
                out = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (out != null) {
                out.append(lone ? '\uFFFD' : c);
            }
        }
        return out == null ? s : out.toString();
    }

    /** A client value quoted in an error message: well-formed and at most 256 characters. */
    static String quote(String s) {
        String clean = wellFormed(s);
        return clean.length() <= 256 ? clean : wellFormed(clean.substring(0, 256)) + "...";
    }
}
