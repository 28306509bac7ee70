package io.streampulse.flink;

import java.util.ArrayList;
import java.util.List;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.annotation.FunctionHint;
import org.apache.flink.table.api.dataview.ListView;
import org.apache.flink.table.api.dataview.MapView;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.AggregateFunction;
import org.apache.flink.types.Row;

/**
 * {@code retry_surplus(event_id, e)}: the copies of an event id seen before in this group (a client's
 * retries), each returned once, with its fields; the first copy of each id is not returned.
 *
 * <p>Why (issue 16): the job counts every on-time copy as it arrives and takes the surplus copies back
 * when their minute closes (05_views.sql). Grouped per minute by a bucket of the event id, this keeps
 * only the ids of the open minute (no row, no timer per event) and, at the close, returns only the ~1%
 * of copies that were retries: the close costs one timer per bucket, not one per event.
 *
 * <p>{@code e} is the job's event ROW (the columns the queries read, in {@code on_time_candidates}); its
 * type is spelled out below and must stay equal to the SQL's, which the planner checks at compile time.
 * Rows arrive as Flink's internal rows, which Flink may reuse after the call: a retry is copied into a
 * row of Java values before it is kept.
 */
@FunctionHint(
        input = {@DataTypeHint("BIGINT"), @DataTypeHint(value = RetrySurplus.EVENT, bridgedTo = RowData.class)},
        output = @DataTypeHint(value = "ARRAY<" + RetrySurplus.EVENT + ">", bridgedTo = ArrayData.class))
public class RetrySurplus extends AggregateFunction<ArrayData, RetrySurplus.Accumulator> {

    static final String EVENT = "ROW<event_type STRING, content_id STRING, user_id BIGINT, region STRING,"
            + " cdn_node STRING, bytes_sent BIGINT, ttfb_ms INT, throughput_kbps INT, error_code STRING,"
            + " price_minor BIGINT, currency STRING> NOT NULL";

    // Field positions and kinds of EVENT, for the copy.
    private static final boolean[] IS_STRING = {true, true, false, true, true, false, false, false, true, false, true};
    private static final boolean[] IS_INT = {false, false, false, false, false, false, true, true, false, false, false};

    /** Ids seen in the group, and the later copies; in keyed state while the job runs (DataViews). */
    public static class Accumulator {
        @DataTypeHint("MAP<BIGINT NOT NULL, BOOLEAN>")
        public MapView<Long, Boolean> seen = new MapView<>();

        @DataTypeHint("ARRAY<" + EVENT + ">")
        public ListView<Row> surplus = new ListView<>();
    }

    @Override
    public Accumulator createAccumulator() {
        return new Accumulator();
    }

    public void accumulate(Accumulator acc, Long eventId, RowData e) throws Exception {
        if (eventId == null) {
            return;  // not an event the job counts (decoded events always have an id)
        }
        if (acc.seen.contains(eventId)) {
            acc.surplus.add(toRow(e));
        } else {
            acc.seen.put(eventId, Boolean.TRUE);
        }
    }

    @Override
    public ArrayData getValue(Accumulator acc) {
        try {
            List<RowData> rows = new ArrayList<>();
            for (Row row : acc.surplus.get()) {
                rows.add(toRowData(row));
            }
            return new GenericArrayData(rows.toArray());
        } catch (Exception ex) {
            throw new IllegalStateException(ex);
        }
    }

    /** The job's internal row as a row of Java values (a copy: the internal one may be reused). */
    static Row toRow(RowData e) {
        Row out = new Row(IS_STRING.length);
        for (int i = 0; i < IS_STRING.length; i++) {
            if (e.isNullAt(i)) {
                continue;
            }
            out.setField(i, IS_STRING[i] ? e.getString(i).toString() : IS_INT[i] ? (Object) e.getInt(i) : e.getLong(i));
        }
        return out;
    }

    static RowData toRowData(Row row) {
        GenericRowData out = new GenericRowData(IS_STRING.length);
        for (int i = 0; i < IS_STRING.length; i++) {
            Object value = row.getField(i);
            out.setField(i, value instanceof String text ? StringData.fromString(text) : value);
        }
        return out;
    }
}
