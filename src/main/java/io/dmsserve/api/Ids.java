package io.dmsserve.api;

import java.util.UUID;

/** The id and creation time (Unix seconds) of one completion, shared by all its chunks. */
record Ids(String id, long created) {

    static Ids next(String prefix) {
        return new Ids(prefix + UUID.randomUUID().toString().replace("-", ""), System.currentTimeMillis() / 1000);
    }
}
