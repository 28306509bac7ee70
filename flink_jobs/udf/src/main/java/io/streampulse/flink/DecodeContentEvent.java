package io.streampulse.flink;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.avro.shaded.org.apache.avro.Schema;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumReader;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericRecord;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryDecoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.DecoderFactory;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.types.Row;

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
 * <p>SQL reads several fields of the result; Flink evaluates the call once per field, so the last
 * input and its result are kept and a repeat call with the same bytes costs one array compare.
 */
public class DecodeContentEvent extends ScalarFunction {

    public static final String[] FIELDS = {
        "event_id", "event_type", "event_time", "content_id", "content_type", "user_id", "session_id",
        "region", "device", "os_version", "network", "cdn_node", "bytes_sent", "duration_ms", "ttfb_ms",
        "throughput_kbps", "error_code", "price_minor", "currency", "referrer",
    };
    private static final int EVENT_TIME = 2;

    private transient Map<Integer, Reader> readers;
    private transient HttpClient http;
    private transient byte[] lastInput;
    private transient Row lastOutput;

    /** A writer schema's reader, or why there is none (the id is unknown to the registry). */
    private record Reader(GenericDatumReader<GenericRecord> reader, String problem) {}

    @Override
    public void open(FunctionContext context) {
        readers = new HashMap<>();
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    public @DataTypeHint(
            "ROW<event_id BIGINT, event_type STRING, event_time TIMESTAMP(3), content_id STRING,"
                    + " content_type STRING, user_id BIGINT, session_id BIGINT, region STRING, device STRING,"
                    + " os_version STRING, network STRING, cdn_node STRING, bytes_sent BIGINT, duration_ms INT,"
                    + " ttfb_ms INT, throughput_kbps INT, error_code STRING, price_minor BIGINT, currency STRING,"
                    + " referrer STRING, decode_error STRING>") Row eval(byte[] value, String registryUrl) {
        if (lastInput != null && Arrays.equals(lastInput, value)) {
            return lastOutput;
        }
        Row result = decode(value, registryUrl);
        lastInput = value;
        lastOutput = result;
        return result;
    }

    private Row decode(byte[] value, String registryUrl) {
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
        Row row = new Row(FIELDS.length + 1);
        Schema schema = record.getSchema();
        for (int i = 0; i < FIELDS.length; i++) {
            Object v = schema.getField(FIELDS[i]) == null ? null : record.get(FIELDS[i]);
            if (i == EVENT_TIME && v != null) {
                v = LocalDateTime.ofInstant(Instant.ofEpochMilli((Long) v), ZoneOffset.UTC);
            } else if (v instanceof CharSequence || v instanceof org.apache.flink.avro.shaded.org.apache.avro.generic.GenericEnumSymbol) {
                v = v.toString();
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

    private static Row failed(String error) {
        Row row = new Row(FIELDS.length + 1);
        row.setField(FIELDS.length, error);
        return row;
    }
}
