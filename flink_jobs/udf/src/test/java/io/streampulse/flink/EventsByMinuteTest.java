package io.streampulse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class EventsByMinuteTest {

    private final EventsByMinute function = new EventsByMinute();
    private static final LocalDateTime T = LocalDateTime.of(2026, 1, 1, 10, 0);

    @Test
    void rowsOfTheSameMinuteAddUpAndNullsAreSkipped() {
        Map<LocalDateTime, Long> acc = function.createAccumulator();
        function.accumulate(acc, T, 3L);
        function.accumulate(acc, T.plusMinutes(1), 4L);
        function.accumulate(acc, T, 2L); // another region's row of the same minute (global trending)
        function.accumulate(acc, null, 9L);
        function.accumulate(acc, T.plusMinutes(2), null);
        assertEquals(Map.of(T, 5L, T.plusMinutes(1), 4L), function.getValue(acc));
    }

    @Test
    void aWindowMergesItsMinutes() {
        Map<LocalDateTime, Long> window = function.createAccumulator();
        Map<LocalDateTime, Long> first = function.createAccumulator();
        Map<LocalDateTime, Long> second = function.createAccumulator();
        Map<LocalDateTime, Long> third = function.createAccumulator();
        function.accumulate(first, T, 1L);
        function.accumulate(second, T.plusMinutes(3), 7L);
        function.accumulate(third, T.plusMinutes(3), 1L);
        function.merge(window, List.of(first, second, third));
        assertEquals(Map.of(T, 1L, T.plusMinutes(3), 8L), function.getValue(window));
        assertEquals(Map.of(T, 1L), function.getValue(first)); // the minutes' own accumulators are unchanged
    }

    @Test
    void theValueIsACopy() {
        Map<LocalDateTime, Long> acc = function.createAccumulator();
        function.accumulate(acc, T, 1L);
        Map<LocalDateTime, Long> value = function.getValue(acc);
        function.accumulate(acc, T, 1L);
        assertEquals(Map.of(T, 1L), value);
    }
}
