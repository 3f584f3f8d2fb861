package io.dmsserve.structured;

import java.util.Map;
import java.util.Random;

/** The schema fuzzer for tests in other packages. */
public final class SchemaFuzzerAccess {

    private SchemaFuzzerAccess() {
    }

    public static Map<String, Object> schema(Random random) {
        return SchemaFuzzer.schema(random, 3);
    }
}
