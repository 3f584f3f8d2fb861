package io.dmsserve.engine.cuda;

import java.util.function.Supplier;

/** A system property set for the length of a call, then put back as it was (the backend reads its settings so). */
final class SystemProperty {

    private SystemProperty() {
    }

    /** What {@code body} gives with property {@code name} set to {@code value} (null: cleared). */
    static <T> T with(String name, String value, Supplier<T> body) {
        String before = System.getProperty(name);
        set(name, value);
        try {
            return body.get();
        } finally {
            set(name, before);
        }
    }

    private static void set(String name, String value) {
        if (value == null) {
            System.clearProperty(name);
        } else {
            System.setProperty(name, value);
        }
    }
}
