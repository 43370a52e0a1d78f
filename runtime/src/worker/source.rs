//! The source task loop.
//!
//! Per iteration: `poll` a bounded batch, run the transform chain, convert
//! key and value, hand each record to the idempotent producer and remember
//! its delivery future together with its source offset, in order. Offsets are
//! committed only as far as every earlier record is acknowledged by Kafka:
//! the in-flight queue is drained from the front only, so a later record
//! acknowledged early never moves the stored offset past an unacknowledged
//! one. Every `offset.flush.interval.ms` (and on pause and stop) the
//! acknowledged offsets are written to the offset store and then passed to
//! [`SourceTask::commit`], which is when a database may be acknowledged.
//!
//! Backpressure: at most [`MAX_IN_FLIGHT`] records wait for acknowledgement;
//! beyond that, and whenever librdkafka's queue is full, the loop waits for
//! the oldest delivery before polling again.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use velocity_api::config::ConfigExt;
use velocity_api::{ConnectError, Offset, Partition, SourceRecord, SourceTask, Value};

use super::{build_converters, producer_config, TaskRuntime, TransformChain};
use crate::status::{State, Status, TargetState};

/// Most records waiting for a Kafka acknowledgement at once per task.
pub const MAX_IN_FLIGHT: usize = 100_000;

/// A record handed to the producer. Only the last record of a run of records
/// from the same source partition within one poll batch keeps its offset:
/// storing an earlier offset than possible is always safe (it can only cause
/// duplicates after a crash, never loss), and it keeps the queue small.
struct InFlight {
    delivery: Option<DeliveryFuture>,
    position: Option<(Partition, Offset)>,
}

/// Runs a source task until it is stopped or fails; publishes its state.
pub async fn run(mut task: Box<dyn SourceTask>, mut rt: TaskRuntime) {
    let label = format!("{}-{}", rt.task_ctx.connector, rt.task_ctx.task_id);
    let mut lp = match Loop::new(&rt, &label) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(task = %label, error = %e, "source task could not be set up");
            rt.status.set(Status::failed(e.to_string()));
            return;
        }
    };
    let result = lp.run(task.as_mut(), &mut rt).await;
    if let Err(e) = &result {
        tracing::error!(task = %label, error = %e, "source task failed");
    }
    if let Err(e) = task.stop().await {
        tracing::warn!(task = %label, error = %e, "source task stop failed");
    }
    match result {
        Ok(()) => rt.status.set(Status::of(State::Unassigned)),
        Err(e) => rt.status.set(Status::failed(e.to_string())),
    }
}

struct Loop {
    key_conv: Box<dyn crate::converters::Converter>,
    value_conv: Box<dyn crate::converters::Converter>,
    chain: TransformChain,
    producer: FutureProducer,
    admin: Option<(AdminClient<DefaultClientContext>, i32, i32)>,
    known_topics: HashSet<String>,
    in_flight: VecDeque<InFlight>,
    acked: Vec<(Partition, Offset)>,
    dirty: bool,
    label: String,
}

fn kafka_err(what: &str, e: KafkaError) -> ConnectError {
    ConnectError::retriable(format!("{what}: {e}"))
}

impl Loop {
    fn new(rt: &TaskRuntime, label: &str) -> Result<Loop, ConnectError> {
        let (key_conv, value_conv) = build_converters(&rt.worker.config, &rt.connector_config)?;
        let chain =
            TransformChain::from_config(&rt.registry, &rt.connector_config).map_err(|errs| {
                ConnectError::fatal(
                    errs.into_iter()
                        .map(|(_, m)| m)
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        let producer: FutureProducer = producer_config(&rt.worker.config, &rt.connector_config, &format!("connector-producer-{label}"))
            .create()
            .map_err(|e| ConnectError::fatal(format!("invalid producer configuration (check producer.* and producer.override.* keys): {e}")))?;
        let cc = &rt.connector_config;
        let admin = if rt
            .worker
            .config
            .raw
            .bool_or("topic.creation.enable", true)?
            && (cc.opt_str("topic.creation.default.partitions").is_some()
                || cc
                    .opt_str("topic.creation.default.replication.factor")
                    .is_some())
        {
            let partitions =
                cc.int_or("topic.creation.default.partitions", -1, -1, 100_000)? as i32;
            let rf = cc.int_or("topic.creation.default.replication.factor", -1, -1, 1000)? as i32;
            let admin: AdminClient<DefaultClientContext> =
                producer_config(&rt.worker.config, cc, &format!("connector-admin-{label}"))
                    .create()
                    .map_err(|e| {
                        ConnectError::fatal(format!("could not create the admin client: {e}"))
                    })?;
            Some((admin, partitions, rf))
        } else {
            None
        };
        Ok(Loop {
            key_conv,
            value_conv,
            chain,
            producer,
            admin,
            known_topics: HashSet::new(),
            in_flight: VecDeque::new(),
            acked: Vec::new(),
            dirty: false,
            label: label.to_owned(),
        })
    }

    async fn run(
        &mut self,
        task: &mut dyn SourceTask,
        rt: &mut TaskRuntime,
    ) -> Result<(), ConnectError> {
        task.start(&rt.task_config, rt.task_ctx.clone()).await?;
        let interval = rt.worker.config.offset_flush_interval;
        let mut last_flush = Instant::now();
        loop {
            let target = *rt.control.borrow_and_update();
            match target {
                TargetState::Stopped => break,
                TargetState::Paused => {
                    self.drain_all().await?;
                    self.commit(task, rt).await?;
                    rt.status.set(Status::of(State::Paused));
                    if rt.control.changed().await.is_err() {
                        break;
                    }
                    continue;
                }
                TargetState::Started => rt.status.set(Status::of(State::Running)),
            }
            let batch = task.poll().await?;
            let mut records = batch.into_iter().peekable();
            while let Some(record) = records.next() {
                let keep_offset = records
                    .peek()
                    .is_none_or(|next| next.source_partition != record.source_partition);
                self.send(record, keep_offset, rt).await?;
            }
            self.reap()?;
            if last_flush.elapsed() >= interval {
                self.commit(task, rt).await?;
                last_flush = Instant::now();
            }
        }
        let deadline = rt
            .worker
            .config
            .task_shutdown_timeout
            .max(Duration::from_secs(1));
        match tokio::time::timeout(deadline, self.drain_all()).await {
            Ok(r) => r?,
            Err(_) => {
                tracing::warn!(task = %self.label, pending = self.in_flight.len(), "records still unacknowledged at shutdown; their offsets are not stored and they will be sent again")
            }
        }
        self.commit(task, rt).await
    }

    async fn send(
        &mut self,
        sr: SourceRecord,
        keep_offset: bool,
        rt: &TaskRuntime,
    ) -> Result<(), ConnectError> {
        let SourceRecord {
            source_partition,
            source_offset,
            record,
        } = sr;
        let record = if self.chain.is_empty() {
            Some(record)
        } else {
            self.chain.apply(record)?
        };
        let delivery = match record {
            None => None,
            Some(rec) => {
                if !self.known_topics.contains(&rec.topic) {
                    self.new_topic(&rec.topic, rt).await?;
                }
                let convert_err = |side: &str, e: ConnectError| {
                    ConnectError::fatal(format!(
                        "Error converting record {side} for topic {}: {e}",
                        rec.topic
                    ))
                };
                let key = self
                    .key_conv
                    .from_connect(&rec.topic, rec.key_schema.as_deref(), &rec.key)
                    .map_err(|e| convert_err("key", e))?;
                let value = self
                    .value_conv
                    .from_connect(&rec.topic, rec.value_schema.as_deref(), &rec.value)
                    .map_err(|e| convert_err("value", e))?;
                let mut headers = None;
                if !rec.headers.is_empty() {
                    let mut h = OwnedHeaders::new_with_capacity(rec.headers.len());
                    for hd in &rec.headers {
                        let bytes = header_bytes(&hd.value);
                        h = h.insert(Header {
                            key: &hd.key,
                            value: bytes.as_deref(),
                        });
                    }
                    headers = Some(h);
                }
                loop {
                    let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&rec.topic);
                    if let Some(k) = &key {
                        fr = fr.key(k.as_slice());
                    }
                    if let Some(v) = &value {
                        fr = fr.payload(v.as_slice());
                    }
                    if let Some(p) = rec.partition {
                        fr = fr.partition(p);
                    }
                    if let Some(ts) = rec.timestamp {
                        fr = fr.timestamp(ts);
                    }
                    if let Some(h) = &headers {
                        fr = fr.headers(h.clone());
                    }
                    match self.producer.send_result(fr) {
                        Ok(f) => break Some(f),
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                            if !self.wait_oldest().await? {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                        }
                        Err((e, _)) => {
                            return Err(kafka_err(&format!("producing to {}", rec.topic), e))
                        }
                    }
                }
            }
        };
        self.in_flight.push_back(InFlight {
            delivery,
            position: keep_offset.then_some((source_partition, source_offset)),
        });
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.wait_oldest().await?;
        }
        Ok(())
    }

    async fn new_topic(&mut self, topic: &str, rt: &TaskRuntime) -> Result<(), ConnectError> {
        if let Some((admin, partitions, rf)) = &self.admin {
            let nt = NewTopic::new(topic, *partitions, TopicReplication::Fixed(*rf));
            let res = admin
                .create_topics(
                    [&nt],
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
                )
                .await
                .map_err(|e| kafka_err(&format!("creating topic {topic}"), e))?;
            for r in res {
                match r {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((t, code)) => {
                        return Err(ConnectError::retriable(format!(
                            "could not create topic {t}: {code}; create it by hand or fix topic.creation.default.* settings"
                        )))
                    }
                }
            }
        }
        if let Ok(mut t) = rt.topics.lock() {
            t.insert(topic.to_owned());
        }
        self.known_topics.insert(topic.to_owned());
        Ok(())
    }

    fn record_ack(&mut self, f: InFlight) {
        let Some((partition, offset)) = f.position else {
            return;
        };
        self.dirty = true;
        match self.acked.iter_mut().find(|(p, _)| *p == partition) {
            Some(slot) => slot.1 = offset,
            None => self.acked.push((partition, offset)),
        }
    }

    /// Pops every leading in-flight record that is already acknowledged.
    fn reap(&mut self) -> Result<(), ConnectError> {
        while let Some(front) = self.in_flight.front_mut() {
            let done = match front.delivery.as_mut() {
                None => true,
                Some(f) => match f.now_or_never() {
                    None => false,
                    Some(r) => {
                        check_delivery(r)?;
                        true
                    }
                },
            };
            if !done {
                break;
            }
            if let Some(f) = self.in_flight.pop_front() {
                self.record_ack(f);
            }
        }
        Ok(())
    }

    /// Waits for the oldest in-flight record; false when nothing is in flight.
    async fn wait_oldest(&mut self) -> Result<bool, ConnectError> {
        let Some(mut f) = self.in_flight.pop_front() else {
            return Ok(false);
        };
        if let Some(d) = f.delivery.take() {
            check_delivery(d.await)?;
        }
        self.record_ack(f);
        self.reap()?;
        Ok(true)
    }

    async fn drain_all(&mut self) -> Result<(), ConnectError> {
        while self.wait_oldest().await? {}
        Ok(())
    }

    async fn commit(
        &mut self,
        task: &mut dyn SourceTask,
        rt: &TaskRuntime,
    ) -> Result<(), ConnectError> {
        self.reap()?;
        if !self.dirty {
            return Ok(());
        }
        let entries: Vec<(Partition, Option<Offset>)> = self
            .acked
            .iter()
            .map(|(p, o)| (p.clone(), Some(o.clone())))
            .collect();
        let store = rt.offsets.clone();
        let name = rt.task_ctx.connector.clone();
        tokio::task::spawn_blocking(move || store.put(&name, &entries))
            .await
            .map_err(|e| ConnectError::fatal(format!("offset store task panicked: {e}")))?
            .map_err(|e| ConnectError::retriable(format!("could not store offsets: {e}")))?;
        self.dirty = false;
        task.commit(&self.acked).await?;
        Ok(())
    }
}

fn check_delivery(
    r: Result<
        rdkafka::producer::future_producer::OwnedDeliveryResult,
        futures::channel::oneshot::Canceled,
    >,
) -> Result<(), ConnectError> {
    match r {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, m))) => {
            use rdkafka::Message;
            Err(ConnectError::fatal(format!(
                "Unrecoverable exception from producer send callback for topic {}: {e}",
                m.topic()
            )))
        }
        Err(_) => Err(ConnectError::fatal("producer dropped a delivery report")),
    }
}

/// Header values as Kafka Connect's SimpleHeaderConverter writes them:
/// strings as UTF-8, bytes raw, numbers and booleans as their text.
fn header_bytes(v: &Value) -> Option<Vec<u8>> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Boolean(b) => b.to_string().into_bytes(),
        other => match other.as_i64() {
            Some(i) => i.to_string().into_bytes(),
            None => format!("{other:?}").into_bytes(),
        },
    })
}
