// Java check for Velocity's Avro output: Confluent's own AvroConverter (7.0.16)
// reads records Velocity wrote (Confluent wire format, schemas in a registry
// reachable over HTTP) and prints the Connect data it gets, rendered by Kafka
// Connect's JsonConverter (schemas.enable=true), one line per record:
//   in:  {"topic":..,"key":B64|null,"value":B64|null}
//   out: {"topic":..,"key":<JsonConverter JSON>|null,"value":<JsonConverter JSON>|null}
// Any record Confluent's converter cannot read fails the run.
// Usage: AvroReadBack REGISTRY_URL IN.jsonl OUT.jsonl
import io.confluent.connect.avro.AvroConverter;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.regex.*;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;

public class AvroReadBack {
  public static void main(String[] args) throws Exception {
    Map<String, Object> cfg = new HashMap<>();
    cfg.put("schema.registry.url", args[0]);
    AvroConverter keyAvro = new AvroConverter();
    keyAvro.configure(cfg, true);
    AvroConverter valueAvro = new AvroConverter();
    valueAvro.configure(cfg, false);
    Map<String, Object> jcfg = new HashMap<>();
    jcfg.put("schemas.enable", "true");
    JsonConverter keyJson = new JsonConverter();
    keyJson.configure(jcfg, true);
    JsonConverter valueJson = new JsonConverter();
    valueJson.configure(jcfg, false);
    Pattern field = Pattern.compile("\"(topic|key|value)\":(null|\"[^\"]*\")");
    StringBuilder out = new StringBuilder();
    int n = 0;
    for (String line : Files.readAllLines(Paths.get(args[1]))) {
      Map<String, String> f = new HashMap<>();
      Matcher m = field.matcher(line);
      while (m.find()) f.put(m.group(1), m.group(2).equals("null") ? null : m.group(2).substring(1, m.group(2).length() - 1));
      String topic = f.get("topic");
      out.append("{\"topic\":\"").append(topic).append("\",\"key\":")
          .append(render(keyAvro, keyJson, topic, f.get("key")))
          .append(",\"value\":").append(render(valueAvro, valueJson, topic, f.get("value"))).append("}\n");
      n++;
    }
    Files.write(Paths.get(args[2]), out.toString().getBytes(StandardCharsets.UTF_8));
    System.err.println("records read back by Confluent's AvroConverter: " + n);
  }

  static String render(AvroConverter avro, JsonConverter json, String topic, String b64) {
    if (b64 == null) return "null";
    SchemaAndValue sv = avro.toConnectData(topic, Base64.getDecoder().decode(b64));
    byte[] j = json.fromConnectData(topic, sv.schema(), sv.value());
    return j == null ? "null" : new String(j, StandardCharsets.UTF_8);
  }
}
