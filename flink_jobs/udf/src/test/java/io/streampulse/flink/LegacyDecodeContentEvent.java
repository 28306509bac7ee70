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
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumReader;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericRecord;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryDecoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.DecoderFactory;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericEnumSymbol;
import org.apache.flink.avro.shaded.org.apache.avro.util.Utf8;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * The decoder as it was before issue 16 (Avro's GenericDatumReader for every record), kept unchanged
 * but for its name as the reference the fast decoder must match, row for row and error for error.
 */
public class LegacyDecodeContentEvent extends ScalarFunction {

    public static final String[] FIELDS = {
        "event_id", "event_type", "event_time", "content_id", "content_type", "user_id", "session_id",
        "region", "device", "os_version", "network", "cdn_node", "bytes_sent", "duration_ms", "ttfb_ms",
        "throughput_kbps", "error_code", "price_minor", "currency", "referrer",
    };
    private static final int EVENT_TIME = 2;

    private transient Map<Integer, Reader> readers;
    private transient HttpClient http;
    private static final ThreadLocal<Object[]> LAST = ThreadLocal.withInitial(() -> new Object[2]);

    /** A writer schema's reader, or why there is none (the id is unknown to the registry). */
    private record Reader(GenericDatumReader<GenericRecord> reader, String problem) {}

    @Override
    public void open(FunctionContext context) {
        readers = new HashMap<>();
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    public @DataTypeHint(
            bridgedTo = RowData.class,
            value = "ROW<event_id BIGINT, event_type STRING, event_time TIMESTAMP(3), content_id STRING,"
                    + " content_type STRING, user_id BIGINT, session_id BIGINT, region STRING, device STRING,"
                    + " os_version STRING, network STRING, cdn_node STRING, bytes_sent BIGINT, duration_ms INT,"
                    + " ttfb_ms INT, throughput_kbps INT, error_code STRING, price_minor BIGINT, currency STRING,"
                    + " referrer STRING, decode_error STRING>") RowData eval(byte[] value, String registryUrl) {
        Object[] last = LAST.get(); // {input bytes, decoded row}
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
        Reader reader = readers.computeIfAbsent(schemaId, id -> fetch(id, registryUrl));
        if (reader.problem() != null) {
            return failed(reader.problem());
        }
        GenericRecord record;
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, null);
        try {
            record = reader.reader().read(null, decoder);
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
            return failed("record of schema id " + schemaId + " has no event_time");
        }
        return row;
    }

    private Reader fetch(int schemaId, String registryUrl) {
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
            return new Reader(null, "unknown schema id " + schemaId + " (the registry does not have it)");
        }
        if (response.statusCode() != 200) {
            throw new IllegalStateException("schema registry answered " + response.statusCode() + " for " + uri);
        }
        try {
            Schema schema = new Schema.Parser().parse(response.body());
            return new Reader(new GenericDatumReader<>(schema), null);
        } catch (RuntimeException e) {
            return new Reader(null, "schema id " + schemaId + " is not a usable Avro schema: " + e.getMessage());
        }
    }

    private static RowData failed(String error) {
        GenericRowData row = new GenericRowData(FIELDS.length + 1);
        row.setField(FIELDS.length, StringData.fromString(error));
        return row;
    }
}
