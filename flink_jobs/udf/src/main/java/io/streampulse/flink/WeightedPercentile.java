package io.streampulse.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.api.dataview.MapView;
import org.apache.flink.table.functions.AggregateFunction;

/**
 * {@code weighted_percentile(value, percentage, weight)}: Flink's {@code PERCENTILE(value, percentage)}
 * over a multiset in which each row adds {@code weight} copies of its value, and a negative weight
 * takes copies away. Flink's own PERCENTILE takes a frequency but ignores one below 1.
 *
 * <p>Why (issue 16): the job counts a client retry once by subtracting its surplus copies at the close of
 * its minute (05_views.sql) instead of holding every row until then. Counts and sums take the weight
 * as a factor; a percentile needs the copies taken out of its multiset, which this does.
 *
 * <p>The answer is Flink's: the same continuous percentile with linear interpolation over the sorted
 * values, in the same floating-point order (PercentileAggFunction.PercentileAccumulator#getValue in
 * flink-table-runtime 2.0), so results are unchanged where no copy is taken away. Null values and zero
 * weights are skipped; a multiset that ends empty gives NULL. WeightedPercentileTest checks it against
 * a plain sort of the expanded values.
 */
public class WeightedPercentile extends AggregateFunction<Double, WeightedPercentile.Accumulator> {

    /** Copies per value, in keyed state when the job runs (a MapView), so only touched values load. */
    public static class Accumulator {
        @DataTypeHint("MAP<DOUBLE NOT NULL, BIGINT NOT NULL>")
        public MapView<Double, Long> counts = new MapView<>();

        public Double percentage;
    }

    @Override
    public Accumulator createAccumulator() {
        return new Accumulator();
    }

    public void accumulate(Accumulator acc, Double value, Double percentage, Long weight) throws Exception {
        if (acc.percentage == null && percentage != null) {
            if (percentage < 0 || percentage > 1) {
                throw new IllegalArgumentException("percentage must be between 0 and 1, got " + percentage);
            }
            acc.percentage = percentage;
        }
        if (value == null || weight == null || weight == 0) {
            return;
        }
        add(acc.counts, value, weight);
    }

    public void merge(Accumulator acc, Iterable<Accumulator> others) throws Exception {
        for (Accumulator other : others) {
            if (acc.percentage == null) {
                acc.percentage = other.percentage;
            }
            for (Map.Entry<Double, Long> entry : other.counts.entries()) {
                add(acc.counts, entry.getKey(), entry.getValue());
            }
        }
    }

    private static void add(MapView<Double, Long> counts, double value, long weight) throws Exception {
        Long before = counts.get(value);
        long after = (before == null ? 0 : before) + weight;
        if (after == 0) {
            counts.remove(value);
        } else {
            counts.put(value, after);
        }
    }

    @Override
    public Double getValue(Accumulator acc) {
        try {
            List<Map.Entry<Double, Long>> sorted = new ArrayList<>();
            long total = 0;
            for (Map.Entry<Double, Long> entry : acc.counts.entries()) {
                if (entry.getValue() < 0) {
                    // More copies taken away than added: the caller's weights are wrong, and a number
                    // computed from them would be silently wrong too.
                    throw new IllegalStateException("value " + entry.getKey() + " has " + entry.getValue() + " copies");
                }
                sorted.add(Map.entry(entry.getKey(), entry.getValue()));
                total += entry.getValue();
            }
            if (total == 0 || acc.percentage == null) {
                return null;
            }
            sorted.sort(Map.Entry.comparingByKey());
            return percentile(sorted, total, acc.percentage);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Flink's interpolation: 1-based position p * (n - 1) + 1 between the two values around it. */
    static double percentile(List<Map.Entry<Double, Long>> sorted, long total, double percentage) {
        double position = percentage * (total - 1) + 1;
        long lower = (long) Math.floor(position);
        long higher = (long) Math.ceil(position);
        int index = 0;
        long seen = sorted.get(0).getValue();
        while (seen < lower) {
            index++;
            seen += sorted.get(index).getValue();
        }
        if (seen >= higher) {
            return sorted.get(index).getKey();
        }
        return (higher - position) * sorted.get(index).getKey() + (position - lower) * sorted.get(index + 1).getKey();
    }
}
