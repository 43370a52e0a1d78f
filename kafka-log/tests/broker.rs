//! The Kafka log helper against real brokers: the shared tansu
//! (`VELOCITY_KAFKA_BOOTSTRAP`, SQLite storage) and a throwaway tansu with
//! its in-memory object-store engine started by the test (the `tansu`
//! binary from `scripts/services.sh`, on PATH or in ~/.cargo/bin). Every
//! test fails when its broker is unreachable.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use velocity_kafka_log::{
    describe_topic, ensure_internal_topic, ensure_topic, verify_internal_topic, Ensured, KafkaLog,
    KafkaLogError, TopicSpec, CONFIG_TOPIC, OFFSET_TOPIC,
};

fn bootstrap() -> String {
    std::env::var("VELOCITY_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:59092".into())
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

/// A tansu broker with `memory://` storage on a free port, killed on drop.
struct MemoryTansu {
    child: Child,
    bootstrap: String,
}

impl MemoryTansu {
    fn start() -> MemoryTansu {
        let bin = std::env::var("VELOCITY_TANSU_BIN").unwrap_or_else(|_| {
            let home = std::env::var("HOME").unwrap_or_default();
            let p = format!("{home}/.cargo/bin/tansu");
            if std::path::Path::new(&p).exists() {
                p
            } else {
                "tansu".into()
            }
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let mut child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .env_remove("STORAGE_ENGINE")
            .env_remove("CLUSTER_ID")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("could not start {bin} (install it with scripts/services.sh up): {e}")
            });
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return MemoryTansu {
                    child,
                    bootstrap: format!("127.0.0.1:{port}"),
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("tansu did not listen on {port}");
    }
}

impl Drop for MemoryTansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Produces `n` records in ONE batch (linger holds them back) to partition 0.
async fn produce_one_batch(bootstrap: &str, topic: &str, n: usize) {
    let p: FutureProducer = client(bootstrap)
        .set("linger.ms", "500")
        .set("batch.num.messages", "10000")
        .create()
        .unwrap();
    let sends: Vec<_> = (0..n)
        .map(|i| {
            let v = format!("v{i}");
            let p = &p;
            let topic = topic.to_owned();
            async move {
                p.send(
                    FutureRecord::<str, str>::to(&topic)
                        .partition(0)
                        .key(&format!("k{i}"))
                        .payload(&v),
                    Duration::from_secs(30),
                )
                .await
                .map_err(|(e, _)| e)
            }
        })
        .collect();
    futures::future::try_join_all(sends).await.unwrap();
}

async fn read_to_end_after_batches(bootstrap: &str) -> (Vec<(i32, i64, i64)>, usize) {
    let topic = unique("log-batch");
    let c = client(bootstrap);
    ensure_topic(&c, &TopicSpec::new(&topic, 1, 1), "test")
        .await
        .unwrap();
    produce_one_batch(bootstrap, &topic, 7).await;
    produce_one_batch(bootstrap, &topic, 5).await;
    let log = KafkaLog::new(&c, &topic).unwrap();
    let reported = log.reported_watermarks().await.unwrap();
    let recs = log.read_to_end(Duration::from_secs(60)).await.unwrap();
    let offsets: Vec<i64> = recs.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (0..12).collect::<Vec<_>>(),
        "every record, in order"
    );
    assert_eq!(recs[11].value.as_deref(), Some(&b"v4"[..]));
    // a second call returns nothing new, and then only what was added
    assert!(log
        .read_to_end(Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
    log.send(Some(0), Some(b"k"), None).await.unwrap();
    let more = log.read_to_end(Duration::from_secs(60)).await.unwrap();
    assert_eq!(more.len(), 1);
    assert_eq!((more[0].offset, more[0].value.as_ref()), (12, None));
    (reported, recs.len())
}

#[tokio::test]
async fn read_to_end_reads_every_batch_on_the_shared_broker() {
    let (reported, n) = read_to_end_after_batches(&bootstrap()).await;
    assert_eq!(n, 12);
    // the SQLite engine reports the true end
    assert_eq!(reported, vec![(0, 0, 12)]);
}

/// tansu 0.6's memory (object store) engine answers ListOffsets(latest) with
/// the base offset of the last batch + 1: after batches of 7 and 5 records
/// it reports 8, not 12. The reader still returns all 12 records.
#[tokio::test]
async fn read_to_end_does_not_trust_list_offsets_on_tansu_memory() {
    let broker = MemoryTansu::start();
    let (reported, n) = read_to_end_after_batches(&broker.bootstrap).await;
    assert_eq!(n, 12);
    assert_eq!(
        reported,
        vec![(0, 0, 8)],
        "tansu memory:// reports the last batch's base + 1"
    );
}

#[tokio::test]
async fn send_waits_for_the_ack_and_partitions_like_java() {
    let topic = unique("log-send");
    let c = client(&bootstrap());
    ensure_topic(&c, &TopicSpec::new(&topic, 25, 1), "test")
        .await
        .unwrap();
    let log = KafkaLog::new(&c, &topic).unwrap();
    // Kafka's default partitioner: murmur2(key) % 25 — partition 17 is where
    // Kafka Connect 4.3 wrote this key (tests/fixtures/connect/kafka-written.jsonl)
    let (p, o) = log
        .send(None, Some(br#"["tms-pg",{"server":"tms"}]"#), Some(b"{}"))
        .await
        .unwrap();
    assert_eq!((p, o), (17, 0));
}

#[tokio::test]
async fn ensure_topic_creates_once_and_internal_topics_are_verified() {
    let c = client(&bootstrap());
    let topic = unique("log-config");
    let spec = TopicSpec::compacted(&topic, 1, 1);
    assert_eq!(
        ensure_topic(&c, &spec, "test").await.unwrap(),
        Ensured::Created
    );
    assert_eq!(
        ensure_topic(&c, &spec, "test").await.unwrap(),
        Ensured::Existed
    );
    ensure_internal_topic(&c, &spec, CONFIG_TOPIC)
        .await
        .unwrap();
    let info = describe_topic(&c, &topic).await.unwrap().unwrap();
    assert_eq!(info.partitions, 1);

    // a config topic with several partitions is refused with Kafka Connect's message
    let wide = unique("log-config-wide");
    ensure_topic(&c, &TopicSpec::compacted(&wide, 3, 1), "test")
        .await
        .unwrap();
    let e = ensure_internal_topic(&c, &TopicSpec::compacted(&wide, 1, 1), CONFIG_TOPIC)
        .await
        .unwrap_err();
    assert!(matches!(e, KafkaLogError::Config(_)));
    assert_eq!(
        e.to_string(),
        format!("Topic '{wide}' supplied via the 'config.storage.topic' property is required to have a single partition in order to guarantee consistency of connector configurations, but found 3 partitions.")
    );
    assert!(!e.is_retriable());
    assert!(describe_topic(&c, &unique("log-absent"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_delete_policy_internal_topic_is_refused_when_the_broker_describes_it() {
    let c = client(&bootstrap());
    let topic = unique("log-offsets-delete");
    ensure_topic(
        &c,
        &TopicSpec::new(&topic, 2, 1).with("cleanup.policy", "delete"),
        "test",
    )
    .await
    .unwrap();
    let info = describe_topic(&c, &topic).await.unwrap().unwrap();
    match &info.cleanup_policy {
        Some(p) => {
            assert_eq!(p, &vec!["delete".to_owned()]);
            let e = verify_internal_topic(&topic, &info, OFFSET_TOPIC).unwrap_err();
            assert!(e.to_string().contains("is required to have 'cleanup.policy=compact' to guarantee consistency and durability of source connector offsets, but found the topic currently has 'cleanup.policy=delete'"), "{e}");
        }
        None => panic!("the broker did not describe the topic's cleanup.policy"),
    }
}
