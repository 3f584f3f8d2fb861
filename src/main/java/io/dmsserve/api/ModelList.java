package io.dmsserve.api;

import java.util.List;

/** {@code GET /v1/models}. */
record ModelList(String object, List<Card> data) {

    record Card(String id, String object, long created, String ownedBy) {

        Card(String id, long created) {
            this(id, "model", created, "dms-serve");
        }
    }
}
