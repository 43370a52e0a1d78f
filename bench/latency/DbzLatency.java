// Latency baseline for bench/latency: the real Debezium PostgreSQL connector
// in its embedded engine (JsonConverter, as bench/latency/run.sh configures
// it). For every change event the handler notes the wall clock at receipt
// (microseconds) next to the event's source.ts_us (the commit time) and the
// row's phase column, and writes "phase receipt_us source_ts_us" lines to
// OUT once STOP_FILE appears (buffered: the file is written after the
// measurement, never during it).
//
//   java -cp <debezium jars>:<classes> DbzLatency CONNECTOR.properties OUT STOP_FILE READY_FILE
//
// READY_FILE is created when the engine has delivered its first event or
// reported its streaming start (the bench waits for it before driving the
// workload).
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.io.*;
import java.nio.file.*;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.*;

public class DbzLatency {
  // In Debezium's JSON value the source block (with its ts_us) comes before
  // the envelope's own ts_us; the schema part names fields but has no numbers.
  static final Pattern SOURCE_TS_US = Pattern.compile("\"source\":\\{[^}]*?\"ts_us\":(\\d+)");
  static final Pattern PHASE = Pattern.compile("\"after\":\\{[^}]*?\"phase\":(\\d+)");

  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    try (InputStream in = new FileInputStream(args[0])) { props.load(in); }
    Path out = Paths.get(args[1]);
    Path stop = Paths.get(args[2]);
    Path ready = Paths.get(args[3]);
    int cap = 4_000_000;
    long[] recv = new long[cap];
    long[] commit = new long[cap];
    int[] phase = new int[cap];
    int[] n = {0};
    DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
        .using(props)
        .notifying((records, committer) -> {
          long now = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
          for (ChangeEvent<String, String> r : records) {
            // parsed after the receipt time was taken
            if (r.value() != null && n[0] < cap) {
              Matcher ts = SOURCE_TS_US.matcher(r.value());
              Matcher ph = PHASE.matcher(r.value());
              if (ts.find() && ph.find()) {
                recv[n[0]] = now;
                commit[n[0]] = Long.parseLong(ts.group(1));
                phase[n[0]] = Integer.parseInt(ph.group(1));
                n[0]++;
              }
            }
            committer.markProcessed(r);
          }
          committer.markBatchFinished();
        })
        .using(new DebeziumEngine.ConnectorCallback() {
          @Override public void taskStarted() {
            try { Files.writeString(ready, "started\n"); } catch (IOException e) { throw new UncheckedIOException(e); }
          }
        })
        .using((success, message, error) -> { if (!success) System.err.println("engine stopped: " + message + " " + error); })
        .build();
    ExecutorService ex = Executors.newSingleThreadExecutor();
    ex.execute(engine);
    while (!Files.exists(stop)) Thread.sleep(100);
    engine.close();
    ex.shutdown();
    ex.awaitTermination(30, TimeUnit.SECONDS);
    try (BufferedWriter w = Files.newBufferedWriter(out)) {
      for (int i = 0; i < n[0]; i++) {
        w.write(phase[i] + " " + recv[i] + " " + commit[i] + "\n");
      }
    }
    System.exit(0);
  }
}
