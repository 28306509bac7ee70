package io.streampulse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.junit.jupiter.api.Test;

class RetrySurplusTest {

    private final RetrySurplus function = new RetrySurplus();

    private static GenericRowData event(String type, String content, Long user, Integer ttfb) {
        return GenericRowData.of(StringData.fromString(type), StringData.fromString(content), user,
                StringData.fromString("DE"), null, 10L, ttfb, null, null, null, StringData.fromString("EUR"));
    }

    private static List<String> describe(ArrayData array) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            RowData row = array.getRow(i, 11);
            out.add(row.getString(0) + "/" + row.getString(1) + "/" + row.getLong(2) + "/"
                    + (row.isNullAt(6) ? "null" : row.getInt(6)) + "/" + row.isNullAt(4) + "/" + row.getString(10));
        }
        return out;
    }

    @Test
    void everyCopyAfterTheFirstComesBackOnceWithItsFields() throws Exception {
        RetrySurplus.Accumulator acc = function.createAccumulator();
        function.accumulate(acc, 1L, event("PURCHASE", "c1", 7L, 100));
        function.accumulate(acc, 2L, event("STREAM_STARTED", "c2", 8L, null));
        function.accumulate(acc, 1L, event("PURCHASE", "c1", 7L, 100));  // a retry
        function.accumulate(acc, 3L, event("PURCHASE", "c3", 9L, 5));
        function.accumulate(acc, 2L, event("STREAM_STARTED", "c2", 8L, null));  // two retries of 2
        function.accumulate(acc, 2L, event("STREAM_STARTED", "c2", 8L, null));
        assertEquals(
                List.of("PURCHASE/c1/7/100/true/EUR", "STREAM_STARTED/c2/8/null/true/EUR",
                        "STREAM_STARTED/c2/8/null/true/EUR"),
                describe(function.getValue(acc)));
    }

    @Test
    void noRetriesNoRows() throws Exception {
        RetrySurplus.Accumulator acc = function.createAccumulator();
        function.accumulate(acc, 1L, event("PURCHASE", "c1", 7L, 100));
        function.accumulate(acc, 2L, event("PURCHASE", "c1", 7L, 100));
        assertEquals(0, function.getValue(acc).size());
    }

    @Test
    void aKeptRetryDoesNotChangeWhenFlinkReusesTheInputRow() throws Exception {
        RetrySurplus.Accumulator acc = function.createAccumulator();
        GenericRowData reused = event("PURCHASE", "c1", 7L, 100);
        function.accumulate(acc, 1L, reused);
        function.accumulate(acc, 1L, reused);
        reused.setField(1, StringData.fromString("changed"));
        reused.setField(6, 999);
        assertEquals(List.of("PURCHASE/c1/7/100/true/EUR"), describe(function.getValue(acc)));
    }
}
