package io.dmsserve.scheduler;

import java.util.List;

/**
 * The scheduler's sequences for the admin dashboard.
 *
 * @param active running and waiting sequences, running first (oldest first), as of {@code asOfMillis}
 * @param recent the last sequences that ended, newest first
 */
public record RequestsView(List<SequenceView> active, List<SequenceView> recent, long asOfMillis) {
}
