package io.streampulse.flink;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.avro.shaded.org.apache.avro.Schema;
import org.apache.flink.avro.shaded.org.apache.avro.SystemLimitException;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumReader;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericRecord;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryDecoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.DecoderFactory;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericEnumSymbol;
import org.apache.flink.avro.shaded.org.apache.avro.util.Utf8;
import org.apache.flink.core.memory.MemorySegment;
import org.apache.flink.core.memory.MemorySegmentFactory;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * Decodes one Kafka record value in the schema registry's wire format (magic byte 0, 4-byte schema
 * id, Avro binary) into a content event, or into a row whose {@code decode_error} says why it could
 * not: the job keeps running and the caller routes such records to the dead-letter table.
 *
 * <p>Fields are taken by name from the writer's schema, so every compatible version reads: a field
 * the writer did not have (v1 records and {@code referrer}) is null. Writer schemas are fetched
 * once per id from the registry's Confluent API. A registry that cannot be reached is an error of
 * the job, not of the record: it throws, Flink restarts from the last checkpoint, nothing is
 * dead-lettered by mistake.
 *
 * <p>Speed (issue 16: this function was most of the source task's time during catch-up): per writer
 * schema a {@link Plan} is built once, one step per writer field, which reads the Avro binary straight
 * from the record's bytes into the result row: no GenericRecord, no ResolvingDecoder, no lookup by
 * name, strings wrap the record's bytes, enum symbols are built once. Anything the plan does not
 * read (a corrupt record, a writer schema with nested types) goes through Avro's generic reader,
 * which was the only path before: its answer, error texts included, stays the reference
 * (DecodeContentEventTest checks the two give the same rows).
 *
 * <p>SQL reads several fields of the result, in several branches of the job: Flink evaluates the call
 * once per field and each branch has its own instance of this function. All of them run in the task's
 * thread, one record at a time, so the last input and its result are kept per thread: every call but
 * the first for a record is a reference (or array) compare. The result is Flink's internal row
 * (bridgedTo RowData), so no call pays for a conversion either.
 */
public class DecodeContentEvent extends ScalarFunction {

    public static final String[] FIELDS = {
        "event_id", "event_type", "event_time", "content_id", "content_type", "user_id", "session_id",
        "region", "device", "os_version", "network", "cdn_node", "bytes_sent", "duration_ms", "ttfb_ms",
        "throughput_kbps", "error_code", "price_minor", "currency", "referrer",
    };
    private static final int EVENT_TIME = 2;

    private static final ThreadLocal<Object[]> LAST = ThreadLocal.withInitial(() -> new Object[2]);

    private transient Map<Integer, Writer> writers;
    private transient HttpClient http;
    // The writer of the previous record: a topic's records come in long runs of one schema id.
    private transient int lastId;
    private transient Writer lastWriter;
    // open() runs in the task's thread, which then calls eval: its cache is held here, so that a call
    // costs no ThreadLocal lookup. Any other thread still gets its own cache from LAST.
    private transient Thread owner;
    private transient Object[] ownerLast;

    /** A writer schema's decoders (the plan may be null: then the generic reader), or why there are none. */
    private record Writer(GenericDatumReader<GenericRecord> reader, Plan plan, String problem) {}

    @Override
    public void open(FunctionContext context) {
        writers = new HashMap<>();
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        owner = Thread.currentThread();
        ownerLast = LAST.get();
    }

    public @DataTypeHint(
            bridgedTo = RowData.class,
            value = "ROW<event_id BIGINT, event_type STRING, event_time TIMESTAMP(3), content_id STRING,"
                    + " content_type STRING, user_id BIGINT, session_id BIGINT, region STRING, device STRING,"
                    + " os_version STRING, network STRING, cdn_node STRING, bytes_sent BIGINT, duration_ms INT,"
                    + " ttfb_ms INT, throughput_kbps INT, error_code STRING, price_minor BIGINT, currency STRING,"
                    + " referrer STRING, decode_error STRING>") RowData eval(byte[] value, String registryUrl) {
        Object[] last = Thread.currentThread() == owner ? ownerLast : LAST.get(); // {input bytes, decoded row}
        byte[] lastInput = (byte[]) last[0];
        if (lastInput == value || (lastInput != null && Arrays.equals(lastInput, value))) {
            return (RowData) last[1];
        }
        RowData result = decode(value, registryUrl);
        last[0] = value;
        last[1] = result;
        return result;
    }

    private RowData decode(byte[] value, String registryUrl) {
        if (value == null || value.length == 0) {
            return failed("empty record value");
        }
        if (value[0] != 0) {
            return failed(String.format("not in the schema registry wire format: magic byte 0x%02x", value[0]));
        }
        if (value.length < 5) {
            return failed("record of " + value.length + " bytes is shorter than the 5-byte header");
        }
        int schemaId = ((value[1] & 0xff) << 24) | ((value[2] & 0xff) << 16) | ((value[3] & 0xff) << 8)
                | (value[4] & 0xff);
        Writer writer = lastWriter;
        if (writer == null || lastId != schemaId) {
            writer = writers.computeIfAbsent(schemaId, id -> fetch(id, registryUrl));
            lastId = schemaId;
            lastWriter = writer;
        }
        if (writer.problem() != null) {
            return failed(writer.problem());
        }
        if (writer.plan() != null) {
            RowData row = writer.plan().decode(value);
            if (row != null) {
                return row;
            }
        }
        return decodeGeneric(value, schemaId, writer.reader());
    }

    /**
     * The generic decoding (Avro's GenericDatumReader), used for what the plan does not read: it says
     * why a record is corrupt in Avro's own words.
     */
    private static RowData decodeGeneric(byte[] value, int schemaId, GenericDatumReader<GenericRecord> reader) {
        GenericRecord record;
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null);
        try {
            record = reader.read(null, decoder);
            if (!decoder.isEnd()) {
                return failed("corrupt Avro payload for schema id " + schemaId + ": bytes left after the record");
            }
        } catch (IOException | RuntimeException e) {
            return failed("corrupt Avro payload for schema id " + schemaId + ": " + e);
        }
        GenericRowData row = new GenericRowData(FIELDS.length + 1);
        Schema schema = record.getSchema();
        for (int i = 0; i < FIELDS.length; i++) {
            Object v = schema.getField(FIELDS[i]) == null ? null : record.get(FIELDS[i]);
            if (i == EVENT_TIME && v != null) {
                v = TimestampData.fromEpochMillis((Long) v);
            } else if (v instanceof Utf8 utf8) {
                v = StringData.fromBytes(utf8.getBytes(), 0, utf8.getByteLength());
            } else if (v instanceof GenericEnumSymbol<?> || v instanceof CharSequence) {
                v = StringData.fromString(v.toString());
            }
            row.setField(i, v);
        }
        if (row.getField(EVENT_TIME) == null) {
            return noEventTime(schemaId);
        }
        return row;
    }

    private Writer fetch(int schemaId, String registryUrl) {
        URI uri = URI.create(registryUrl.replaceAll("/+$", "") + "/schemas/ids/" + schemaId + "/schema");
        HttpResponse<String> response;
        try {
            response = http.send(
                    HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException("schema registry unreachable at " + uri + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while fetching " + uri, e);
        }
        if (response.statusCode() == 404) {
            return new Writer(null, null, "unknown schema id " + schemaId + " (the registry does not have it)");
        }
        if (response.statusCode() != 200) {
            throw new IllegalStateException("schema registry answered " + response.statusCode() + " for " + uri);
        }
        Schema schema;
        GenericDatumReader<GenericRecord> reader;
        try {
            schema = new Schema.Parser().parse(response.body());
            reader = new GenericDatumReader<>(schema);
        } catch (RuntimeException e) {
            return new Writer(null, null, "schema id " + schemaId + " is not a usable Avro schema: " + e.getMessage());
        }
        return new Writer(reader, Plan.of(schema, schemaId), null);
    }

    static RowData failed(String error) {
        GenericRowData row = new GenericRowData(FIELDS.length + 1);
        row.setField(FIELDS.length, StringData.fromString(error));
        return row;
    }

    static RowData noEventTime(int schemaId) {
        return failed("record of schema id " + schemaId + " has no event_time");
    }

    /**
     * How to read the records of one writer schema: one step per writer field, in the writer's order,
     * each reading the field's Avro binary form from the bytes and storing the value into its column of
     * the row (or skipping it). Values are exactly what the generic path stores: Long, Integer, Boolean,
     * Float, Double, StringData for strings and enum symbols, TimestampData for event_time.
     *
     * <p>{@link #decode} answers null for anything it does not accept (truncated or malformed bytes,
     * bytes left over): the generic reader then decides, so the plan never needs to be as lenient as
     * Avro, only never more lenient. Single-threaded: one plan per function instance.
     */
    static final class Plan {
        // Kinds of values. TIMESTAMP is a long read into event_time.
        static final int NULL = 0, BOOLEAN = 1, INT = 2, LONG = 3, TIMESTAMP = 4, FLOAT = 5, DOUBLE = 6,
                STRING = 7, ENUM = 8, UNION = 9, BYTES = 10, FIXED = 11;

        /** A field's type, as far as the plan reads it. */
        static final class Type {
            final int kind;
            final StringData[] symbols; // ENUM: one prebuilt string per symbol index
            final Type[] branches; // UNION, by branch index
            final int size; // FIXED

            Type(int kind, StringData[] symbols, Type[] branches, int size) {
                this.kind = kind;
                this.symbols = symbols;
                this.branches = branches;
                this.size = size;
            }
        }

        /** Thrown (one instance, no stack trace) when the bytes are not a record the plan reads. */
        private static final RuntimeException REJECT = new RuntimeException("rejected", null, false, false) {};

        private final int schemaId;
        private final Type[] types; // per writer field
        private final int[] columns; // per writer field: the row's column, or -1 to skip it

        private byte[] buf; // the record being decoded, and the read position in it
        private int pos;
        private MemorySegment[] segments; // buf as Flink memory, made at the record's first string

        private Plan(int schemaId, Type[] types, int[] columns) {
            this.schemaId = schemaId;
            this.types = types;
            this.columns = columns;
        }

        /** The plan for a writer schema, or null when the generic reader should read it (nested types). */
        static Plan of(Schema schema, int schemaId) {
            if (schema.getType() != Schema.Type.RECORD) {
                return null;
            }
            int n = schema.getFields().size();
            int[] columns = new int[n];
            Arrays.fill(columns, -1);
            for (int i = 0; i < FIELDS.length; i++) { // by name, exactly as the generic path looks fields up
                Schema.Field field = schema.getField(FIELDS[i]);
                if (field != null) {
                    columns[field.pos()] = i;
                }
            }
            Type[] types = new Type[n];
            for (int f = 0; f < n; f++) {
                types[f] = type(schema.getFields().get(f).schema(), columns[f]);
                if (types[f] == null) {
                    return null;
                }
            }
            return new Plan(schemaId, types, columns);
        }

        /** A field's type for the plan, or null if the plan cannot give the generic path's value. */
        private static Type type(Schema s, int column) {
            boolean kept = column >= 0;
            switch (s.getType()) {
                case NULL:
                    return new Type(NULL, null, null, 0);
                case LONG:
                    return new Type(column == EVENT_TIME ? TIMESTAMP : LONG, null, null, 0);
                case UNION: {
                    Type[] branches = new Type[s.getTypes().size()];
                    for (int b = 0; b < branches.length; b++) {
                        branches[b] = type(s.getTypes().get(b), column);
                        if (branches[b] == null) {
                            return null;
                        }
                    }
                    return new Type(UNION, null, branches, 0);
                }
                default:
                    break;
            }
            if (column == EVENT_TIME) {
                return null; // the generic path fails the task on an event_time that is not a long: let it
            }
            switch (s.getType()) {
                case BOOLEAN:
                    return new Type(BOOLEAN, null, null, 0);
                case INT:
                    return new Type(INT, null, null, 0);
                case FLOAT:
                    return new Type(FLOAT, null, null, 0);
                case DOUBLE:
                    return new Type(DOUBLE, null, null, 0);
                case STRING:
                    // avro.java.string makes the generic reader decode a java.lang.String (lossy on bad UTF-8)
                    return kept && s.getProp("avro.java.string") != null ? null : new Type(STRING, null, null, 0);
                case ENUM: {
                    StringData[] symbols = new StringData[s.getEnumSymbols().size()];
                    for (int i = 0; i < symbols.length; i++) {
                        symbols[i] = StringData.fromString(s.getEnumSymbols().get(i));
                        symbols[i].toBytes(); // materialized now: shared by every row, never changed again
                    }
                    return new Type(ENUM, symbols, null, 0);
                }
                case BYTES: // the generic path would put a ByteBuffer or a GenericFixed into the row
                    return kept ? null : new Type(BYTES, null, null, 0);
                case FIXED:
                    return kept ? null : new Type(FIXED, null, null, s.getFixedSize());
                default: // records, arrays, maps
                    return null;
            }
        }

        /** The decoded row, the missing-event_time row, or null: then the generic reader decides. */
        RowData decode(byte[] value) {
            GenericRowData row = new GenericRowData(FIELDS.length + 1);
            buf = value;
            pos = 5;
            try {
                for (int f = 0; f < types.length; f++) {
                    int column = columns[f];
                    if (column >= 0) {
                        row.setField(column, read(types[f]));
                    } else {
                        skip(types[f]);
                    }
                }
            } catch (RuntimeException e) { // REJECT, or Avro's size limits
                return null;
            } finally {
                buf = null;
                segments = null;
            }
            if (pos != value.length) {
                return null; // bytes left after the record
            }
            if (row.getField(EVENT_TIME) == null) {
                return noEventTime(schemaId);
            }
            return row;
        }

        private Object read(Type t) {
            switch (t.kind) {
                case NULL:
                    return null;
                case BOOLEAN:
                    return readBoolean();
                case INT:
                    return readInt();
                case LONG:
                    return readLong();
                case TIMESTAMP:
                    return TimestampData.fromEpochMillis(readLong());
                case FLOAT:
                    return Float.intBitsToFloat(readFixedInt());
                case DOUBLE:
                    return Double.longBitsToDouble(readFixedLong());
                case STRING: { // a view of the record's bytes (one segment for all its strings): no Utf8, no copy
                    int n = stringLength();
                    if (segments == null) {
                        segments = new MemorySegment[] {MemorySegmentFactory.wrap(buf)};
                    }
                    StringData s = BinaryStringData.fromAddress(segments, pos, n);
                    pos += n;
                    return s;
                }
                case ENUM:
                    return t.symbols[index(t.symbols.length)];
                case UNION:
                    return read(t.branches[index(t.branches.length)]);
                default: // BYTES and FIXED are only ever skipped
                    throw REJECT;
            }
        }

        /** Reads past a value, checking what the generic reader would check when it reads it. */
        private void skip(Type t) {
            switch (t.kind) {
                case NULL:
                    return;
                case BOOLEAN:
                    readBoolean();
                    return;
                case INT:
                    readInt();
                    return;
                case LONG:
                case TIMESTAMP:
                    readLong();
                    return;
                case FLOAT:
                    advance(4);
                    return;
                case DOUBLE:
                    advance(8);
                    return;
                case STRING:
                    advance(stringLength());
                    return;
                case BYTES: {
                    long n = readLong();
                    SystemLimitException.checkMaxBytesLength(n);
                    advance(n);
                    return;
                }
                case FIXED:
                    advance(t.size);
                    return;
                case ENUM:
                    index(t.symbols.length);
                    return;
                case UNION:
                    skip(t.branches[index(t.branches.length)]);
                    return;
                default:
                    throw REJECT;
            }
        }

        private boolean readBoolean() {
            if (pos >= buf.length) {
                throw REJECT;
            }
            return buf[pos++] == 1; // as Avro's BinaryDecoder: 1 is true, any other byte false
        }

        /** Avro's zig-zag varint int: at most 5 bytes, the bits above 32 of the fifth byte dropped. */
        private int readInt() {
            int n = 0;
            for (int shift = 0; shift <= 28; shift += 7) {
                if (pos >= buf.length) {
                    throw REJECT;
                }
                int b = buf[pos++] & 0xff;
                n |= (b & 0x7f) << shift;
                if (b <= 0x7f) {
                    return (n >>> 1) ^ -(n & 1);
                }
            }
            throw REJECT; // "Invalid int encoding"
        }

        /** Avro's zig-zag varint long: at most 10 bytes. */
        private long readLong() {
            long n = 0;
            for (int shift = 0; shift <= 63; shift += 7) {
                if (pos >= buf.length) {
                    throw REJECT;
                }
                int b = buf[pos++] & 0xff;
                n |= (b & 0x7fL) << shift;
                if (b <= 0x7f) {
                    return (n >>> 1) ^ -(n & 1);
                }
            }
            throw REJECT; // "Invalid long encoding"
        }

        private int readFixedInt() { // little-endian, as Avro writes floats
            advance(4);
            return readLe4(pos - 4);
        }

        private long readFixedLong() { // little-endian, as Avro writes doubles
            advance(8);
            int p = pos - 8;
            return (readLe4(p) & 0xffffffffL) | ((long) readLe4(p + 4) << 32);
        }

        private int readLe4(int p) {
            return (buf[p] & 0xff) | (buf[p + 1] & 0xff) << 8 | (buf[p + 2] & 0xff) << 16 | (buf[p + 3] & 0xff) << 24;
        }

        /** A string's byte length, checked as Avro checks it (negative, over the limit, past the end). */
        private int stringLength() {
            long n = readLong();
            SystemLimitException.checkMaxStringLength(n);
            if (n > buf.length - pos) {
                throw REJECT;
            }
            return (int) n;
        }

        /** An enum symbol's or a union branch's index, in [0, count). */
        private int index(int count) {
            int i = readInt();
            if (i < 0 || i >= count) {
                throw REJECT;
            }
            return i;
        }

        private void advance(long n) {
            if (n < 0 || n > buf.length - pos) {
                throw REJECT;
            }
            pos += (int) n;
        }
    }
}
