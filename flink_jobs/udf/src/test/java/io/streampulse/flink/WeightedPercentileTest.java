package io.streampulse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

class WeightedPercentileTest {

    private final WeightedPercentile function = new WeightedPercentile();

    /** The textbook definition, independent of the function: sort every copy, interpolate at p * (n - 1). */
    private static Double expanded(List<Double> values, double p) {
        if (values.isEmpty()) {
            return null;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        double h = p * (sorted.size() - 1);
        int lo = (int) Math.floor(h);
        int hi = (int) Math.ceil(h);
        return sorted.get(lo) + (h - lo) * (sorted.get(hi) - sorted.get(lo));
    }

    private Double run(double p, double[] values, long[] weights) throws Exception {
        WeightedPercentile.Accumulator acc = function.createAccumulator();
        for (int i = 0; i < values.length; i++) {
            function.accumulate(acc, values[i], p, weights[i]);
        }
        return function.getValue(acc);
    }

    @Test
    void knownAnswers() throws Exception {
        // 10, 20, 30, 40: p95 sits at 1-based position 3.85, between 30 and 40.
        assertEquals(38.5, run(0.95, new double[] {40, 10, 30, 20}, new long[] {1, 1, 1, 1}), 1e-12);
        assertEquals(25.0, run(0.5, new double[] {40, 10, 30, 20}, new long[] {1, 1, 1, 1}), 1e-12);
        assertEquals(7.0, run(0.95, new double[] {7}, new long[] {1}));
        // A weight of 3 is three copies: 5, 5, 5, 9 -> median 5.
        assertEquals(5.0, run(0.5, new double[] {5, 9}, new long[] {3, 1}));
    }

    @Test
    void surplusCopiesTakenAwayLeaveTheAnswerOfTheDistinctEvents() throws Exception {
        Random random = new Random(16);
        for (int round = 0; round < 2000; round++) {
            double p = random.nextBoolean() ? 0.95 : random.nextDouble();
            int n = 1 + random.nextInt(40);
            List<Double> distinct = new ArrayList<>();
            List<double[]> rows = new ArrayList<>();  // value, weight
            for (int i = 0; i < n; i++) {
                double value = random.nextInt(30) * (random.nextBoolean() ? 1 : 7.5);
                distinct.add(value);
                int copies = random.nextInt(10) == 0 ? 2 + random.nextInt(3) : 1;
                for (int c = 0; c < copies; c++) {
                    rows.add(new double[] {value, 1});
                }
                if (copies > 1) {
                    rows.add(new double[] {value, 1 - copies});  // the correction at the window's close
                }
            }
            Collections.shuffle(rows.subList(0, rows.size()), random);
            WeightedPercentile.Accumulator acc = function.createAccumulator();
            for (double[] row : rows) {
                function.accumulate(acc, row[0], p, (long) row[1]);
            }
            assertEquals(expanded(distinct, p), function.getValue(acc), 1e-9, "round " + round);
            // And exactly what the same distinct values give with weight 1, as Flink's PERCENTILE would.
            WeightedPercentile.Accumulator plain = function.createAccumulator();
            for (double value : distinct) {
                function.accumulate(plain, value, p, 1L);
            }
            assertEquals(function.getValue(plain), function.getValue(acc), "round " + round);
        }
    }

    @Test
    void mergeAddsCopies() throws Exception {
        WeightedPercentile.Accumulator a = function.createAccumulator();
        WeightedPercentile.Accumulator b = function.createAccumulator();
        function.accumulate(a, 1.0, 0.5, 1L);
        function.accumulate(a, 3.0, 0.5, 2L);
        function.accumulate(b, 3.0, 0.5, -1L);
        function.accumulate(b, 2.0, 0.5, 1L);
        function.merge(a, List.of(b));
        assertEquals(2.0, function.getValue(a));  // 1, 2, 3
    }

    @Test
    void nullsAndEmptyMultisets() throws Exception {
        WeightedPercentile.Accumulator acc = function.createAccumulator();
        function.accumulate(acc, null, 0.5, 1L);
        assertNull(function.getValue(acc));
        function.accumulate(acc, 4.0, 0.5, 2L);
        function.accumulate(acc, 4.0, 0.5, -2L);
        assertNull(function.getValue(acc));
    }

    @Test
    void moreCopiesTakenAwayThanAddedIsAnError() throws Exception {
        WeightedPercentile.Accumulator acc = function.createAccumulator();
        function.accumulate(acc, 4.0, 0.5, 1L);
        function.accumulate(acc, 4.0, 0.5, -2L);
        assertThrows(IllegalStateException.class, () -> function.getValue(acc));
        assertThrows(IllegalArgumentException.class, () -> function.accumulate(function.createAccumulator(), 1.0, 1.5, 1L));
    }
}
