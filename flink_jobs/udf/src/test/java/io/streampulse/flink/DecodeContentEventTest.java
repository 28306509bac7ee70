package io.streampulse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.flink.avro.shaded.org.apache.avro.Schema;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericData;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumWriter;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryEncoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.EncoderFactory;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The fast decoder (per-schema plans) against the generic one it replaced ({@link LegacyDecodeContentEvent}):
 * the same row for random records of every schema, for every error case and for thousands of corrupted
 * records. A small HTTP server plays the registry. With -Dstreampulse.bench=true it also times both.
 */
class DecodeContentEventTest {

    static final int V1 = 1, V2 = 2, NO_EVENT_TIME = 3, NULLABLE_TIME = 4, EXOTIC = 5, NESTED = 6, NOT_RECORD = 7,
            UNUSABLE = 8, STRING_TIME = 9, SERVER_ERROR = 500, UNKNOWN = 999999;

    static final Map<Integer, String> REGISTRY = new HashMap<>();
    static final Map<Integer, Schema> SCHEMAS = new HashMap<>();
    static HttpServer server;
    static String url;

    @BeforeAll
    static void registry() throws IOException {
        REGISTRY.put(V1, Files.readString(Path.of("../../schemas/content_event.avsc")));
        REGISTRY.put(V2, Files.readString(Path.of("../../schemas/content_event.v2.avsc")));
        REGISTRY.put(NO_EVENT_TIME, record("""
                {"name": "event_id", "type": "long"}, {"name": "content_id", "type": "string"}"""));
        REGISTRY.put(NULLABLE_TIME, record("""
                {"name": "region", "type": ["string", "null"]},
                {"name": "event_time", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
                {"name": "event_id", "type": ["null", "long"]}"""));
        // Writer types the job never sees, but the generic path stored as they were: kept and skipped ones.
        REGISTRY.put(EXOTIC, record("""
                {"name": "event_id", "type": "long"},
                {"name": "x_bytes", "type": "bytes"},
                {"name": "event_time", "type": "long"},
                {"name": "x_fixed", "type": {"type": "fixed", "name": "F3", "size": 3}},
                {"name": "x_bool", "type": "boolean"},
                {"name": "x_float", "type": "float"},
                {"name": "x_double", "type": "double"},
                {"name": "x_enum", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
                {"name": "x_union", "type": ["null", "bytes", "string", "double", "F3", "E", "boolean", "int"]},
                {"name": "x_jstring", "type": {"type": "string", "avro.java.string": "String"}},
                {"name": "region", "type": "string"},
                {"name": "duration_ms", "type": ["int", "null"]},
                {"name": "device", "type": "boolean"},
                {"name": "ttfb_ms", "type": "float"},
                {"name": "throughput_kbps", "type": "double"},
                {"name": "content_id", "type": ["null", "string", "long", "E"]},
                {"name": "referrer", "type": "E"}"""));
        REGISTRY.put(NESTED, record("""
                {"name": "event_id", "type": "long"},
                {"name": "nested", "type": {"type": "record", "name": "N", "fields": [{"name": "a", "type": "int"}]}},
                {"name": "event_time", "type": "long"},
                {"name": "tags", "type": {"type": "array", "items": "string"}},
                {"name": "attrs", "type": {"type": "map", "values": "long"}},
                {"name": "content_id", "type": {"type": "string", "avro.java.string": "String"}}"""));
        REGISTRY.put(NOT_RECORD, "\"string\"");
        REGISTRY.put(UNUSABLE, "{\"type\": \"no such type\"}");
        REGISTRY.put(STRING_TIME, record("""
                {"name": "event_time", "type": "string"}"""));
        for (Map.Entry<Integer, String> e : REGISTRY.entrySet()) {
            if (e.getKey() != UNUSABLE) {
                SCHEMAS.put(e.getKey(), new Schema.Parser().parse(e.getValue()));
            }
        }
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/apis/ccompat/v7/schemas/ids/", exchange -> { // .../ids/<id>/schema
            String[] parts = exchange.getRequestURI().getPath().split("/");
            int id = Integer.parseInt(parts[parts.length - 2]);
            String body = REGISTRY.get(id);
            int status = id == SERVER_ERROR ? 500 : body == null ? 404 : 200;
            byte[] bytes = (body == null ? "{}" : body).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        server.start();
        url = "http://127.0.0.1:" + server.getAddress().getPort() + "/apis/ccompat/v7/";
    }

    @AfterAll
    static void stop() {
        server.stop(0);
    }

    static String record(String fields) {
        return "{\"type\": \"record\", \"name\": \"T\", \"namespace\": \"t\", \"fields\": [" + fields + "]}";
    }

    static DecodeContentEvent fresh() {
        DecodeContentEvent f = new DecodeContentEvent();
        f.open(null);
        return f;
    }

    static LegacyDecodeContentEvent legacy() {
        LegacyDecodeContentEvent f = new LegacyDecodeContentEvent();
        f.open(null);
        return f;
    }

    // --- records -------------------------------------------------------------------------------------

    static Object randomValue(Schema s, Random rng) {
        switch (s.getType()) {
            case NULL:
                return null;
            case BOOLEAN:
                return rng.nextBoolean();
            case INT:
                return switch (rng.nextInt(4)) {
                    case 0 -> rng.nextInt(100);
                    case 1 -> rng.nextBoolean() ? Integer.MAX_VALUE : Integer.MIN_VALUE;
                    default -> rng.nextInt();
                };
            case LONG:
                return switch (rng.nextInt(4)) {
                    case 0 -> (long) rng.nextInt(100) - 50;
                    case 1 -> rng.nextBoolean() ? Long.MAX_VALUE : Long.MIN_VALUE;
                    case 2 -> 1_767_225_600_000L + rng.nextInt(1_000_000_000);
                    default -> rng.nextLong();
                };
            case FLOAT:
                return rng.nextInt(10) == 0 ? Float.NaN : rng.nextFloat() * 1e6f - 5e5f;
            case DOUBLE:
                return rng.nextInt(10) == 0 ? Double.NEGATIVE_INFINITY : rng.nextGaussian() * 1e9;
            case STRING:
                return randomString(rng);
            case BYTES: {
                byte[] b = new byte[rng.nextInt(20)];
                rng.nextBytes(b);
                return ByteBuffer.wrap(b);
            }
            case FIXED: {
                byte[] b = new byte[s.getFixedSize()];
                rng.nextBytes(b);
                return new GenericData.Fixed(s, b);
            }
            case ENUM:
                return new GenericData.EnumSymbol(s, s.getEnumSymbols().get(rng.nextInt(s.getEnumSymbols().size())));
            case UNION:
                return randomValue(s.getTypes().get(rng.nextInt(s.getTypes().size())), rng);
            case ARRAY: {
                List<Object> items = new ArrayList<>();
                for (int i = rng.nextInt(4); i > 0; i--) {
                    items.add(randomValue(s.getElementType(), rng));
                }
                return items;
            }
            case MAP: {
                Map<String, Object> m = new HashMap<>();
                for (int i = rng.nextInt(4); i > 0; i--) {
                    m.put(randomString(rng), randomValue(s.getValueType(), rng));
                }
                return m;
            }
            case RECORD: {
                GenericData.Record r = new GenericData.Record(s);
                for (Schema.Field f : s.getFields()) {
                    r.put(f.pos(), randomValue(f.schema(), rng));
                }
                return r;
            }
            default:
                throw new AssertionError(s);
        }
    }

    static String randomString(Random rng) {
        String alphabet = "abcXYZ-_0123456789 éßø€漢字😀";
        StringBuilder sb = new StringBuilder();
        for (int i = rng.nextInt(rng.nextInt(10) == 0 ? 200 : 16); i > 0; i--) {
            sb.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0, rng.nextInt(alphabet.codePointCount(0, alphabet.length())))));
        }
        return sb.toString();
    }

    /** A record in the registry's wire format: 0, the schema id (4 bytes, big-endian), the Avro binary. */
    static byte[] encode(int schemaId, Object datum) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(new byte[] {0, (byte) (schemaId >>> 24), (byte) (schemaId >>> 16), (byte) (schemaId >>> 8), (byte) schemaId});
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
            new GenericDatumWriter<Object>(SCHEMAS.get(schemaId)).write(datum, encoder);
            encoder.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static List<byte[]> randomRecords(int schemaId, int count, long seed) {
        Random rng = new Random(seed);
        List<byte[]> records = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            records.add(encode(schemaId, randomValue(SCHEMAS.get(schemaId), rng)));
        }
        return records;
    }

    // --- comparison ----------------------------------------------------------------------------------

    /** Both decoders give equal rows, field by field of the same classes, or both throw the same. */
    static RowData assertDecodesAsBefore(LegacyDecodeContentEvent old, DecodeContentEvent now, byte[] value) {
        RowData expected;
        try {
            expected = old.eval(value == null ? null : value.clone(), url);
        } catch (RuntimeException e) {
            RuntimeException thrown = assertThrows(RuntimeException.class, () -> now.eval(value, url));
            assertEquals(e.getClass(), thrown.getClass());
            assertEquals(e.getMessage(), thrown.getMessage());
            return null;
        }
        RowData actual = now.eval(value, url);
        java.util.function.Supplier<String> what = () -> value == null ? "null" : Arrays.toString(value);
        assertEquals(expected, actual, what);
        GenericRowData e = (GenericRowData) expected, a = (GenericRowData) actual;
        assertEquals(e.getArity(), a.getArity());
        for (int i = 0; i < e.getArity(); i++) {
            Object x = e.getField(i), y = a.getField(i);
            assertEquals(x == null ? null : x.getClass(), y == null ? null : y.getClass(), what);
            assertEquals(String.valueOf(x), String.valueOf(y), what);
        }
        return actual;
    }

    static String error(RowData row) {
        return row.isNullAt(DecodeContentEvent.FIELDS.length) ? null : row.getString(DecodeContentEvent.FIELDS.length).toString();
    }

    // --- tests ---------------------------------------------------------------------------------------

    @Test
    void randomRecordsOfEverySchemaDecodeAsBefore() {
        LegacyDecodeContentEvent old = legacy();
        DecodeContentEvent now = fresh();
        int decoded = 0;
        for (int id : new int[] {V1, V2, NO_EVENT_TIME, NULLABLE_TIME, EXOTIC, NESTED, NOT_RECORD}) {
            for (byte[] record : randomRecords(id, id <= V2 ? 3000 : 500, id)) {
                RowData row = assertDecodesAsBefore(old, now, record);
                if (row != null && error(row) == null) {
                    decoded++;
                }
            }
        }
        assertTrue(decoded > 6000, "decoded " + decoded);
    }

    @Test
    void thePlanReadsTheJobsSchemasItselfAndLeavesNestedOnesToAvro() {
        LegacyDecodeContentEvent old = legacy();
        for (int id : new int[] {V1, V2, EXOTIC, NULLABLE_TIME, NO_EVENT_TIME}) {
            DecodeContentEvent.Plan plan = DecodeContentEvent.Plan.of(SCHEMAS.get(id), id);
            assertNotNull(plan, "schema " + id);
            for (byte[] record : randomRecords(id, 300, 50 + id)) {
                RowData row = plan.decode(record); // null would mean: the generic reader decides
                assertNotNull(row, () -> Arrays.toString(record));
                assertEquals(old.eval(record, url), row);
            }
        }
        assertNull(DecodeContentEvent.Plan.of(SCHEMAS.get(NESTED), NESTED));
        assertNull(DecodeContentEvent.Plan.of(SCHEMAS.get(NOT_RECORD), NOT_RECORD));
        assertNull(DecodeContentEvent.Plan.of(SCHEMAS.get(STRING_TIME), STRING_TIME));
    }

    @Test
    void v1RecordsReadReferrerAsNullAndV2RecordsHaveIt() {
        DecodeContentEvent now = fresh();
        int referrers = 0;
        for (byte[] record : randomRecords(V1, 200, 7)) {
            RowData row = now.eval(record, url);
            assertNull(error(row));
            assertTrue(row.isNullAt(19));
            assertNotNull(row.getTimestamp(2, 3));
        }
        for (byte[] record : randomRecords(V2, 200, 8)) {
            RowData row = now.eval(record, url);
            assertNull(error(row));
            referrers += row.isNullAt(19) ? 0 : 1;
        }
        assertTrue(referrers > 50);
    }

    @Test
    void everyErrorCaseGivesTheSameReason() {
        LegacyDecodeContentEvent old = legacy();
        DecodeContentEvent now = fresh();
        byte[] valid = randomRecords(V2, 1, 1).get(0);
        byte[] body = Arrays.copyOfRange(valid, 5, valid.length);
        Map<byte[], String> cases = new java.util.LinkedHashMap<>();
        cases.put(null, "empty record value");
        cases.put(new byte[0], "empty record value");
        cases.put("{not avro".getBytes(StandardCharsets.UTF_8), "magic byte 0x7b");
        cases.put(new byte[] {0, 0}, "record of 2 bytes is shorter than the 5-byte header");
        cases.put(new byte[] {0, 0, 0, 1}, "shorter than the 5-byte header");
        cases.put(concat(new byte[] {0, 0, 0x0f, 0x42, 0x3f}, body), "unknown schema id 999999 (the registry does not have it)");
        cases.put(concat(new byte[] {0, 0, 0, 0, UNUSABLE}, body), "schema id 8 is not a usable Avro schema");
        cases.put(Arrays.copyOf(valid, 20), "corrupt Avro payload for schema id 2: java.io.EOFException");
        cases.put(concat(valid, new byte[] {2, 4}), "corrupt Avro payload for schema id 2: bytes left after the record");
        cases.put(new byte[] {0, 0, 0, 0, V1}, "corrupt Avro payload for schema id 1");
        cases.put(concat(new byte[] {0, 0, 0, 0, V1}, new byte[] {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1}), "Invalid long encoding");
        cases.put(concat(new byte[] {0, 0, 0, 0, V1, 2}, new byte[] {40}), "corrupt Avro payload"); // enum index 20
        cases.put(concat(new byte[] {0, 0, 0, 0, V1, 2, 2, 2}, new byte[] {3}), "corrupt Avro payload"); // negative length
        cases.put(encode(NO_EVENT_TIME, randomValue(SCHEMAS.get(NO_EVENT_TIME), new Random(1))), "record of schema id 3 has no event_time");
        GenericData.Record nullTime = new GenericData.Record(SCHEMAS.get(NULLABLE_TIME));
        nullTime.put("region", "US");
        cases.put(encode(NULLABLE_TIME, nullTime), "record of schema id 4 has no event_time");
        cases.put(encode(NOT_RECORD, "just a string"), "corrupt Avro payload for schema id 7: java.lang.ClassCastException");
        for (Map.Entry<byte[], String> c : cases.entrySet()) {
            RowData row = assertDecodesAsBefore(old, now, c.getKey());
            assertNotNull(error(row), c.getValue());
            assertTrue(error(row).contains(c.getValue()), error(row) + " lacks " + c.getValue());
        }
        // a union branch out of range (error_code's branch 2 of 2): walk a v1 record up to error_code
        byte[] v1 = randomRecords(V1, 1, 3).get(0);
        for (int i = 5; i < v1.length; i++) {
            byte[] broken = v1.clone();
            broken[i] = 4;
            assertDecodesAsBefore(old, now, broken);
        }
    }

    @Test
    void registryFailuresFailTheJobAsBefore() {
        byte[] valid = randomRecords(V1, 1, 1).get(0);
        byte[] serverError = valid.clone();
        serverError[3] = 1;
        serverError[4] = (byte) 0xf4; // id 500
        for (String registry : new String[] {"http://127.0.0.1:1/", url}) {
            byte[] value = registry.equals(url) ? serverError : valid;
            IllegalStateException old = assertThrows(IllegalStateException.class, () -> legacy().eval(value, registry));
            IllegalStateException now = assertThrows(IllegalStateException.class, () -> fresh().eval(value, registry));
            assertEquals(old.getMessage(), now.getMessage());
        }
        // an event_time that is not a long failed the task (ClassCastException): it still does
        GenericData.Record r = new GenericData.Record(SCHEMAS.get(STRING_TIME));
        r.put("event_time", "yesterday");
        assertDecodesAsBefore(legacy(), fresh(), encode(STRING_TIME, r));
    }

    @Test
    void corruptedRecordsDecodeOrFailAsBefore() {
        LegacyDecodeContentEvent old = legacy();
        DecodeContentEvent now = fresh();
        Random rng = new Random(42);
        int failed = 0, total = 0;
        for (int id : new int[] {V1, V2, EXOTIC, NULLABLE_TIME}) {
            // -Dstreampulse.fuzz=N for more records per schema than the quick default
            for (byte[] record : randomRecords(id, Integer.getInteger("streampulse.fuzz", 150), 100 + id)) {
                for (int cut = 5; cut < record.length; cut += 1 + rng.nextInt(4)) { // truncated
                    failed += error(assertDecodesAsBefore(old, now, Arrays.copyOf(record, cut))) != null ? 1 : 0;
                    total++;
                }
                for (int k = 0; k < 20; k++) { // a few bytes changed after the header
                    byte[] broken = record.clone();
                    for (int n = 1 + rng.nextInt(3); n > 0 && broken.length > 5; n--) {
                        broken[5 + rng.nextInt(broken.length - 5)] = (byte) (rng.nextInt(3) == 0 ? 0xff : rng.nextInt(256));
                    }
                    RowData row = assertDecodesAsBefore(old, now, broken);
                    failed += row == null || error(row) != null ? 1 : 0;
                    total++;
                }
                byte[] tail = new byte[1 + rng.nextInt(3)];
                rng.nextBytes(tail);
                assertDecodesAsBefore(old, now, concat(record, tail));
                total++;
            }
        }
        assertTrue(failed > 500 && failed < total, failed + " of " + total);
    }

    @Test
    void theLastInputIsRememberedPerThread() throws Exception {
        DecodeContentEvent now = fresh();
        byte[] a = randomRecords(V2, 1, 5).get(0);
        RowData first = now.eval(a, url);
        assertSame(first, now.eval(a, url));
        assertSame(first, now.eval(a.clone(), url)); // equal bytes, another array (BinaryRowData copies)
        assertSame(first, fresh().eval(a, url)); // another instance in the same thread
        AtomicReference<Object> other = new AtomicReference<>();
        Thread t = new Thread(() -> other.set(now.eval(a, url))); // not the thread that opened it
        t.start();
        t.join();
        assertEquals(first, other.get());
        org.junit.jupiter.api.Assertions.assertNotSame(first, other.get());
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    // --- benchmark -----------------------------------------------------------------------------------

    interface Decoder {
        RowData eval(byte[] value);
    }

    /**
     * Decode ns/record, old vs new, median of 7 runs: each call a new record (so each decodes), and
     * "as in the job": one record looked at 22 times (the job's calls per record; all but one hit the cache).
     */
    @Test
    @EnabledIfSystemProperty(named = "streampulse.bench", matches = "true")
    void benchmark() {
        byte[][] data = new byte[4096][];
        Random rng = new Random(9);
        for (int i = 0; i < data.length; i++) {
            data[i] = encode(V2, likeTheGenerator(rng));
        }
        LegacyDecodeContentEvent old = legacy();
        DecodeContentEvent now = fresh();
        Decoder o = v -> old.eval(v, url), n = v -> now.eval(v, url);
        for (int calls : new int[] {1, 22}) {
            long[][] times = new long[2][7];
            for (int warm = 0; warm < 3; warm++) {
                run(o, data, calls, 200_000);
                run(n, data, calls, 200_000);
            }
            for (int i = 0; i < 7; i++) {
                times[0][i] = run(o, data, calls, 300_000);
                times[1][i] = run(n, data, calls, 300_000);
            }
            Arrays.sort(times[0]);
            Arrays.sort(times[1]);
            System.out.printf("BENCH %d call(s)/record: old %d ns/record (runs %s), new %d ns/record (runs %s)%n", calls,
                    times[0][3], Arrays.toString(times[0]), times[1][3], Arrays.toString(times[1]));
            System.out.printf("BENCH %d call(s)/record: allocated old %d bytes/record, new %d bytes/record%n", calls,
                    allocated(o, data, calls), allocated(n, data, calls));
        }
    }

    /** A v2 event with values like generator/events.py makes (short strings, mostly null options). */
    static GenericData.Record likeTheGenerator(Random rng) {
        Schema schema = SCHEMAS.get(V2);
        GenericData.Record r = new GenericData.Record(schema);
        for (Schema.Field f : schema.getFields()) {
            Schema s = f.schema().getType() == Schema.Type.UNION ? f.schema().getTypes().get(1) : f.schema();
            if (s.getType() == Schema.Type.ENUM) {
                r.put(f.pos(), new GenericData.EnumSymbol(s, s.getEnumSymbols().get(rng.nextInt(s.getEnumSymbols().size()))));
            }
        }
        boolean failed = rng.nextInt(20) == 0, purchase = rng.nextInt(10) == 0;
        long sent = failed || purchase ? 0 : 50_000 + rng.nextInt(4_950_000);
        int duration = sent > 0 ? 200 + rng.nextInt(59_800) : 0;
        r.put("event_id", rng.nextLong() >>> 1);
        r.put("event_time", 1_767_225_600_000L + rng.nextInt(900_000));
        r.put("content_id", String.format("mov-%06d", rng.nextInt(100_000)));
        r.put("user_id", (long) rng.nextInt(10_000_000));
        r.put("session_id", rng.nextLong() >>> 24);
        r.put("region", "US");
        r.put("os_version", "18.2");
        r.put("cdn_node", "edge-fra-" + rng.nextInt(4));
        r.put("bytes_sent", sent);
        r.put("duration_ms", duration);
        r.put("ttfb_ms", 20 + rng.nextInt(380));
        r.put("throughput_kbps", duration > 0 ? (int) (sent * 8 / duration) : 0);
        r.put("error_code", failed ? "HTTP_503" : null);
        r.put("price_minor", purchase ? 499L : 0L);
        r.put("currency", purchase ? "USD" : null);
        if (rng.nextBoolean()) {
            r.put("referrer", null);
        }
        return r;
    }

    /** Bytes the calling thread allocates per record (deterministic, unlike the times on a busy machine). */
    static long allocated(Decoder d, byte[][] data, int calls) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        run(d, data, calls, 100_000);
        return (mx.getCurrentThreadAllocatedBytes() - before) / 100_000;
    }

    static long sink;

    static long run(Decoder d, byte[][] data, int calls, int records) {
        long start = System.nanoTime();
        long h = 0;
        for (int i = 0; i < records; i++) {
            byte[] v = data[i & (data.length - 1)];
            for (int c = 0; c < calls; c++) {
                h += d.eval(v).getArity();
            }
        }
        sink += h;
        return (System.nanoTime() - start) / records;
    }
}
