package io.streampulse.flink;

import java.time.LocalDateTime;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.functions.AggregateFunction;

/**
 * {@code events_by_minute(minute_start, events)}: the events of each minute of a window, as a map from the
 * minute's start to its sum. Rows of the same minute add up; null rows are skipped.
 *
 * <p>Why (issue 16): trending splits a 5-minute window's events into its last two minutes and the three
 * before (05_views.sql). Written as {@code SUM(events) FILTER (WHERE minute_start >= window_end - 2 min)},
 * the filter reads the window's end, so Flink materialised the HOP windows before aggregating: every
 * content x region minute row was copied into its 5 windows and shuffled 5 times, at the close of every
 * minute. This function does not read the window, so the aggregate slices (each row is added once, to its
 * minute, and a window merges its 5 minutes when it fires); the query looks the last two minutes up by the
 * window's end afterwards. A minute's map has one entry, a window's at most five.
 */
@FunctionHint(
        input = {@DataTypeHint("TIMESTAMP(3)"), @DataTypeHint("BIGINT")},
        accumulator = @DataTypeHint("MAP<TIMESTAMP(3) NOT NULL, BIGINT NOT NULL>"),
        output = @DataTypeHint("MAP<TIMESTAMP(3) NOT NULL, BIGINT NOT NULL>"))
public class EventsByMinute extends AggregateFunction<Map<LocalDateTime, Long>, Map<LocalDateTime, Long>> {

    @Override
    public Map<LocalDateTime, Long> createAccumulator() {
        return new HashMap<>();
    }

    public void accumulate(Map<LocalDateTime, Long> acc, LocalDateTime minute, Long events) {
        if (minute != null && events != null) {
            acc.merge(minute, events, Long::sum);
        }
    }

    /** Windows merge the accumulators of their minutes (Flink's slicing window aggregate). */
    public void merge(Map<LocalDateTime, Long> acc, Iterable<Map<LocalDateTime, Long>> others) {
        for (Map<LocalDateTime, Long> other : others) {
            other.forEach((minute, events) -> acc.merge(minute, events, Long::sum));
        }
    }

    @Override
    public Map<LocalDateTime, Long> getValue(Map<LocalDateTime, Long> acc) {
        return new HashMap<>(acc);
    }
}
