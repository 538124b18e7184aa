//! The event bus on Kafka (SPEC §3.3): one topic per tenant, `user-behaviors-{tenant}`, created on
//! first use with a configurable partition count (default 12) and 7-day retention; key = user id
//! (a user's events stay in order, in one partition); value = the event as JSON.
//!
//! `append` answers only once the broker has acknowledged every event (`acks=all`); when the broker
//! cannot take them within `message.timeout.ms` the call fails with `Unavailable`, which the HTTP
//! layer answers 503 with Retry-After. Nothing is dropped silently: an event is either
//! acknowledged to the client and on the broker, or refused.
//!
//! Consumers are consumer-group members subscribed to every behavior topic by pattern (see
//! [`KafkaBus::consumer`]); the stream jobs run on them (`polyrec worker`).
//!
//! A tenant id may hold `@`, which topic names may not, and `.`, which Kafka takes for `_` when it
//! compares topic names (`tenant_1` and `tenant.1` would collide: the second could never be
//! created). So the tenant part of a topic escapes with `_`: `_` is written `__`, `.` `_d` and `@`
//! `_a`; it holds no `.` and reads back one way, and distinct tenants get distinct topics as Kafka
//! compares them ([`topic_of`]).

use polyrec_core::Code;
use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use polyrec_core::{Error, Event, Result, TenantId};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::EventBus;

/// The topic whose metadata `KafkaBus::connect` asks for to learn the brokers; never created.
const CONNECT_PROBE_TOPIC: &str = "__polyrec_connect_probe";

/// Settings of the Kafka bus, from the `kafka://` URL's query and the server config.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `host:port[,host:port…]`.
    pub brokers: String,
    /// Partitions of a new tenant topic (SPEC §3.3: 12–24).
    pub partitions: i32,
    /// Retention of a new tenant topic (SPEC §3.3: 7 days).
    pub retention_ms: i64,
    /// Prepended to every topic and consumer group name; empty in production. Lets tests (or
    /// installations sharing a cluster) keep apart.
    pub prefix: String,
    /// How long an append may wait for the broker before it is refused.
    pub message_timeout_ms: u64,
    /// Consumer-group session timeout: how soon a dead worker's partitions move to another.
    pub session_timeout_ms: u64,
    /// Replicas of a new topic; `None`: what the cluster can hold (3 from three brokers up,
    /// else one per broker).
    pub replication_factor: Option<i32>,
    /// `min.insync.replicas` of a new topic; `None`: 2 when the topic has three replicas or
    /// more, else 1.
    pub min_insync_replicas: Option<i32>,
    /// Whether the producer is idempotent (`enable.idempotence`): a send the client retries
    /// lands once. On by default; off only for a broker that lacks `InitProducerId`.
    pub idempotence: bool,
}

/// How the topics a bus creates are replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication {
    pub factor: i32,
    pub min_insync: i32,
}

impl KafkaSettings {
    /// The replication of new topics on a cluster of `brokers`: the configured values, else 3
    /// replicas and 2 in sync from three brokers up, one per broker (and 1 in sync) below.
    /// Configured values above what the cluster holds are refused (no topic could be created).
    pub fn replication(&self, brokers: usize) -> Result<Replication> {
        let brokers = brokers.max(1) as i32;
        let factor = self.replication_factor.unwrap_or(brokers.min(3));
        if factor > brokers {
            return Err(Error::invalid(
                Code::BadBackendUrl,
                format!("kafka replication_factor={factor} but the cluster has {brokers} broker(s)"),
            ));
        }
        let min_insync = self.min_insync_replicas.unwrap_or(if factor >= 3 { 2 } else { 1 });
        if min_insync > factor {
            return Err(Error::invalid(
                Code::BadBackendUrl,
                format!("kafka min_insync_replicas={min_insync} is more than replication_factor={factor}"),
            ));
        }
        Ok(Replication { factor, min_insync })
    }
}

impl KafkaSettings {
    /// Parses `kafka://host:port[,host:port…][?partitions=12&retention_hours=168&prefix=P
    /// &replication_factor=3&min_insync_replicas=2&idempotence=true]`.
    pub fn from_url(url: &str) -> Result<Self> {
        let bad = |what: String| Error::invalid(Code::BadBackendUrl, format!("kafka url {url:?}: {what}"));
        let rest = url.strip_prefix("kafka://").ok_or_else(|| bad("must start with kafka://".into()))?;
        let (brokers, query) = rest.split_once('?').unwrap_or((rest, ""));
        let brokers = brokers.trim_end_matches('/');
        if brokers.is_empty() {
            return Err(bad("no broker address".into()));
        }
        let mut settings = KafkaSettings {
            brokers: brokers.to_owned(),
            partitions: 12,
            retention_ms: 7 * 24 * 3_600_000,
            prefix: String::new(),
            message_timeout_ms: 5_000,
            session_timeout_ms: 10_000,
            replication_factor: None,
            min_insync_replicas: None,
            idempotence: true,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || value.parse::<i64>().map_err(|_| bad(format!("{key} must be a number, not {value:?}")));
            match key {
                "partitions" => settings.partitions = number()?.clamp(1, 1_000) as i32,
                "retention_hours" => settings.retention_ms = number()?.max(1) * 3_600_000,
                "message_timeout_ms" => settings.message_timeout_ms = number()?.max(1) as u64,
                "session_timeout_ms" => settings.session_timeout_ms = number()?.max(1) as u64,
                "prefix" => settings.prefix = value.to_owned(),
                "replication_factor" => settings.replication_factor = Some(number()?.clamp(1, 100) as i32),
                "min_insync_replicas" => settings.min_insync_replicas = Some(number()?.clamp(1, 100) as i32),
                "idempotence" => {
                    settings.idempotence = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("idempotence must be true or false, not {value:?}"))),
                    }
                }
                other => return Err(bad(format!("unknown parameter {other:?}"))),
            }
        }
        if !settings.prefix.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(bad("prefix may hold letters, digits, '.', '_' and '-' only".into()));
        }
        Ok(settings)
    }
}

/// One record for [`KafkaBus::send_all`].
struct Outgoing<'a> {
    topic: &'a str,
    key: &'a str,
    payload: &'a [u8],
    timestamp_ms: Option<i64>,
}

pub struct KafkaBus {
    settings: KafkaSettings,
    /// Replaced after a fatal error ([`KafkaBus::renew_producer_if_fatal`]).
    producer: parking_lot::RwLock<FutureProducer>,
    admin: AdminClient<DefaultClientContext>,
    /// For metadata and watermark queries (blocking calls, made on the blocking pool).
    meta: std::sync::Arc<BaseConsumer>,
    /// Topics known to exist (created by this process or found on the broker).
    topics: Mutex<HashSet<String>>,
    /// How new topics are replicated, from the settings and the cluster's size at connect.
    replication: Replication,
}

fn unavailable(error: impl std::fmt::Display) -> Error {
    Error::unavailable(format!("kafka: {error}"))
}

/// Kafka's longest topic name.
const MAX_TOPIC_LEN: usize = 249;

/// `user-behaviors-{tenant}` with the tenant escaped (see the module docs). A tenant whose escaped
/// id would take the name past Kafka's 249 characters keeps the whole escapes that fit, then `_h`
/// and the FNV-1a hash of its id: no escape starts with `_h`, so a hashed name never equals an
/// escaped one (two hashed ones with the same kept start would need the same 64-bit hash).
pub fn topic_of(prefix: &str, tenant: &TenantId) -> String {
    let escapes = tenant.as_str().chars().map(|c| match c {
        '_' => "__".to_owned(),
        '.' => "_d".to_owned(),
        '@' => "_a".to_owned(),
        c => c.to_string(),
    });
    let mut topic = format!("{prefix}user-behaviors-");
    let escaped: Vec<String> = escapes.collect();
    if topic.len() + escaped.iter().map(String::len).sum::<usize>() <= MAX_TOPIC_LEN {
        topic.extend(escaped);
        return topic;
    }
    let hashed = format!("_h{:016x}", super::fnv1a(&[tenant.as_str()]));
    for escape in escaped {
        if topic.len() + escape.len() + hashed.len() > MAX_TOPIC_LEN {
            break;
        }
        topic.push_str(&escape);
    }
    topic + &hashed
}

impl KafkaBus {
    /// A new producer of `settings`.
    fn producer(settings: &KafkaSettings) -> Result<FutureProducer> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.brokers)
            // Every in-sync replica has the record before the send is acknowledged, and a send
            // librdkafka retries (a lost acknowledgement) is written once, in order.
            .set("acks", "all")
            .set("enable.idempotence", settings.idempotence.to_string())
            .set("message.timeout.ms", settings.message_timeout_ms.to_string())
            .set("linger.ms", "2")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.messages", "1000000");
        config.create().map_err(unavailable)
    }

    /// After a fatal error (an idempotent producer fenced when the broker came back after its
    /// records timed out, a sequence the broker lost) librdkafka's producer takes nothing more:
    /// it is replaced by a new one (a new producer id), as librdkafka asks. The records it failed
    /// were refused to the client, so nothing acknowledged is lost.
    fn renew_producer_if_fatal(&self, failed: &FutureProducer, fenced: bool) {
        use rdkafka::producer::Producer;
        let reason = match failed.client().fatal_error() {
            Some((code, reason)) => format!("{code:?}: {reason}"),
            None if fenced => "the broker fenced its producer id".to_owned(),
            None => return,
        };
        let mut current = self.producer.write();
        // Another sender may have renewed it already.
        if !std::ptr::eq(current.client(), failed.client()) {
            return;
        }
        match Self::producer(&self.settings) {
            Ok(fresh) => {
                tracing::warn!(reason, "kafka producer hit a fatal error; a new producer takes over");
                *current = fresh;
            }
            Err(error) => tracing::error!(%error, "kafka producer hit a fatal error and could not be renewed"),
        }
    }

    pub async fn connect(settings: KafkaSettings) -> Result<Self> {
        let producer = Self::producer(&settings)?;
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", &settings.brokers).create().map_err(unavailable)?;
        let meta: BaseConsumer =
            ClientConfig::new().set("bootstrap.servers", &settings.brokers).create().map_err(unavailable)?;
        let meta = std::sync::Arc::new(meta);
        // Fail at start-up, not on the first event, when the broker cannot be reached. The
        // brokers come with the metadata of any topic: one that does not exist (a consumer does
        // not create it) rather than all of them, whose metadata grows with every tenant's topic.
        let client = meta.clone();
        let brokers = tokio::task::spawn_blocking(move || {
            client.fetch_metadata(Some(CONNECT_PROBE_TOPIC), Duration::from_secs(10)).map(|m| m.brokers().len())
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
        let replication = settings.replication(brokers)?;
        if replication.factor < 3 {
            tracing::warn!(
                brokers,
                replication_factor = replication.factor,
                min_insync_replicas = replication.min_insync,
                "kafka topics are created with fewer than 3 replicas: a broker's disk lost loses acknowledged events"
            );
        }
        let bus = Self {
            settings,
            producer: parking_lot::RwLock::new(producer),
            admin,
            meta,
            topics: Mutex::new(HashSet::new()),
            replication,
        };
        bus.behavior_topics().await?;
        Ok(bus)
    }

    pub fn settings(&self) -> &KafkaSettings {
        &self.settings
    }

    /// How the topics this bus creates are replicated.
    pub fn replication(&self) -> Replication {
        self.replication
    }

    pub fn topic(&self, tenant: &TenantId) -> String {
        topic_of(&self.settings.prefix, tenant)
    }

    /// The regular expression every behavior topic matches (for pattern subscriptions).
    pub fn topic_pattern(&self) -> String {
        format!("^{}user-behaviors-.+", self.settings.prefix.replace('.', "\\."))
    }

    /// Creates a tenant's topic unless it is known to exist.
    async fn ensure_topic(&self, topic: &str) -> Result<()> {
        if self.topics.lock().contains(topic) {
            return Ok(());
        }
        let retention = self.settings.retention_ms.to_string();
        let min_insync = self.replication.min_insync.to_string();
        let new = NewTopic::new(topic, self.settings.partitions, TopicReplication::Fixed(self.replication.factor))
            .set("retention.ms", &retention)
            .set("cleanup.policy", "delete")
            .set("min.insync.replicas", &min_insync);
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = self.admin.create_topics([&new], &options).await.map_err(unavailable)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => return Err(unavailable(format!("creating topic {name}: {code}"))),
            }
        }
        self.topics.lock().insert(topic.to_owned());
        tracing::info!(
            topic,
            partitions = self.settings.partitions,
            replication_factor = self.replication.factor,
            min_insync_replicas = self.replication.min_insync,
            "topic ready"
        );
        Ok(())
    }

    /// Publishes records `(key, JSON)` to a derived topic (`user-profile-updates`,
    /// `item-stats-updates`, `recommendation-metrics`; SPEC §3.3), creating it on first use, and
    /// waits until the broker has them all.
    pub async fn publish(&self, topic: &str, records: &[(String, Vec<u8>)]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let topic = format!("{}{topic}", self.settings.prefix);
        self.ensure_topic(&topic).await?;
        let records = records.iter().map(|(key, payload)| Outgoing { topic: &topic, key, payload, timestamp_ms: None });
        self.send_all(records).await.map(|_| ())
    }

    /// Hands every record to the producer (waiting while its queue is full), then waits for the
    /// broker to acknowledge each; returns their offsets in order. One slow acknowledgement does
    /// not hold up sending the rest.
    async fn send_all<'a>(&self, records: impl Iterator<Item = Outgoing<'a>>) -> Result<Vec<i64>> {
        self.send_each(records).await?.into_iter().collect()
    }

    /// [`KafkaBus::send_all`], with each record's own outcome: the broker took some of a batch
    /// and not the others, and the caller says which. `Err` when the broker took none.
    async fn send_each<'a>(&self, records: impl Iterator<Item = Outgoing<'a>>) -> Result<Vec<Result<i64>>> {
        let producer = self.producer.read().clone();
        let mut deliveries = Vec::new();
        for outgoing in records {
            let mut record = FutureRecord::to(outgoing.topic).key(outgoing.key).payload(outgoing.payload);
            if let Some(ms) = outgoing.timestamp_ms {
                record = record.timestamp(ms);
            }
            let delivery = loop {
                match producer.send_result(record) {
                    Ok(delivery) => break Ok(delivery),
                    // The local queue is full: wait for deliveries to drain it.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                        record = returned;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((error, _)) => break Err(unavailable(error)),
                }
            };
            deliveries.push(delivery);
        }
        if deliveries.iter().all(Result::is_err)
            && let Some(Err(error)) = deliveries.pop()
        {
            // A producer in librdkafka's fatal state refuses every record at once.
            self.renew_producer_if_fatal(&producer, false);
            return Err(error);
        }
        let mut offsets = Vec::with_capacity(deliveries.len());
        let mut fenced = false;
        for delivery in deliveries {
            offsets.push(match delivery {
                Ok(delivery) => match delivery.await {
                    Ok(Ok(delivered)) => Ok(delivered.offset),
                    Ok(Err((error, _))) => {
                        fenced |= matches!(
                            error.rdkafka_error_code(),
                            Some(
                                RDKafkaErrorCode::ProducerFenced
                                    | RDKafkaErrorCode::InvalidProducerEpoch
                                    | RDKafkaErrorCode::UnknownProducerId
                                    | RDKafkaErrorCode::OutOfOrderSequenceNumber
                                    | RDKafkaErrorCode::Fatal
                            )
                        );
                        Err(unavailable(format!("the broker did not take a record: {error}")))
                    }
                    Err(_) => Err(unavailable("the producer shut down")),
                },
                Err(error) => Err(error),
            });
        }
        if offsets.iter().any(Result::is_err) {
            self.renew_producer_if_fatal(&producer, fenced);
        }
        // None taken is the bus being unavailable, not a partial batch.
        if offsets.iter().all(Result::is_err)
            && let Some(Err(error)) = offsets.pop()
        {
            return Err(error);
        }
        Ok(offsets)
    }

    /// Reads every record of a derived topic, all partitions, until none arrives for a second:
    /// for tests and tools.
    pub async fn read_topic(&self, topic: &str) -> Result<Vec<Vec<u8>>> {
        let topic = format!("{}{topic}", self.settings.prefix);
        let client = self.meta.clone();
        let config = self.consumer_config("polyrec-read-topic");
        tokio::task::spawn_blocking(move || {
            let metadata = client.fetch_metadata(Some(&topic), Duration::from_secs(5)).map_err(unavailable)?;
            let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len() as i32);
            let mut assignment = TopicPartitionList::new();
            for partition in 0..partitions {
                assignment.add_partition_offset(&topic, partition, Offset::Beginning).map_err(unavailable)?;
            }
            let consumer: BaseConsumer = config.create().map_err(unavailable)?;
            consumer.assign(&assignment).map_err(unavailable)?;
            let mut out = Vec::new();
            let mut last = std::time::Instant::now();
            while last.elapsed() < Duration::from_secs(1) {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(message)) => {
                        use rdkafka::Message;
                        out.push(message.payload().unwrap_or_default().to_vec());
                        last = std::time::Instant::now();
                    }
                    Some(Err(error)) => return Err(unavailable(error)),
                    None => {}
                }
            }
            Ok(out)
        })
        .await
        .map_err(unavailable)?
    }

    /// A topic's `retention.ms` as the broker reports it (`None` if it reports none).
    pub async fn topic_retention_ms(&self, topic: &str) -> Result<Option<i64>> {
        Ok(self.topic_config(topic, "retention.ms").await?.and_then(|v| v.parse().ok()))
    }

    /// One configuration entry of a topic, as the broker describes it.
    pub async fn topic_config(&self, topic: &str, name: &str) -> Result<Option<String>> {
        use rdkafka::admin::ResourceSpecifier;
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        let results =
            self.admin.describe_configs([&ResourceSpecifier::Topic(topic)], &options).await.map_err(unavailable)?;
        let mut value = None;
        for result in results {
            let resource = result.map_err(unavailable)?;
            value = resource.entries.iter().find(|e| e.name == name).and_then(|e| e.value.clone());
        }
        Ok(value)
    }

    /// Every behavior topic on the broker, with its partition count.
    pub async fn behavior_topics(&self) -> Result<Vec<(String, i32)>> {
        let prefix = format!("{}user-behaviors-", self.settings.prefix);
        let client = self.meta.clone();
        let topics = tokio::task::spawn_blocking(move || -> Result<Vec<(String, i32)>> {
            let metadata = client.fetch_metadata(None, Duration::from_secs(5)).map_err(unavailable)?;
            Ok(metadata
                .topics()
                .iter()
                .filter(|t| t.name().starts_with(&prefix) && t.error().is_none())
                .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
                .collect())
        })
        .await
        .map_err(unavailable)??;
        self.topics.lock().extend(topics.iter().map(|(name, _)| name.clone()));
        Ok(topics)
    }

    /// The end (the offset after the last record) of every partition of every behavior topic.
    ///
    /// Read from the partitions themselves rather than taken from the high watermark the broker
    /// reports: the tansu broker of the test servers reports one past the *first* offset of the
    /// last record batch, which undercounts when a batch holds several records. So the last
    /// batch is fetched (from watermark − 1) and its last record's offset + 1 is the end; on
    /// Kafka that equals the high watermark.
    pub async fn end_offsets(&self) -> Result<Vec<(String, i32, i64)>> {
        let topics = self.behavior_topics().await?;
        let client = self.meta.clone();
        let config = self.consumer_config("polyrec-end-offsets");
        tokio::task::spawn_blocking(move || {
            let mut ends = Vec::new();
            let mut assignment = TopicPartitionList::new();
            for (topic, partitions) in topics {
                for partition in 0..partitions {
                    let (_, high) =
                        client.fetch_watermarks(&topic, partition, Duration::from_secs(5)).map_err(unavailable)?;
                    if high > 0 {
                        assignment
                            .add_partition_offset(&topic, partition, Offset::Offset(high - 1))
                            .map_err(unavailable)?;
                    }
                    ends.push((topic.clone(), partition, high.max(0)));
                }
            }
            if assignment.count() == 0 {
                return Ok(ends);
            }
            let consumer: BaseConsumer = config.create().map_err(unavailable)?;
            consumer.assign(&assignment).map_err(unavailable)?;
            let mut pending = assignment.count();
            let mut seen: HashSet<(String, i32)> = HashSet::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            // Until every partition has answered, then briefly for the rest of the last batches.
            let mut quiet_until: Option<std::time::Instant> = None;
            loop {
                let now = std::time::Instant::now();
                if now > deadline || quiet_until.is_some_and(|until| now > until) {
                    break;
                }
                match consumer.poll(Duration::from_millis(20)) {
                    Some(Ok(message)) => {
                        use rdkafka::Message;
                        let key = (message.topic().to_owned(), message.partition());
                        if let Some(end) = ends.iter_mut().find(|(t, p, _)| *t == key.0 && *p == key.1) {
                            end.2 = end.2.max(message.offset() + 1);
                        }
                        if seen.insert(key) {
                            pending -= 1;
                            if pending == 0 {
                                quiet_until = Some(std::time::Instant::now() + Duration::from_millis(50));
                            }
                        }
                    }
                    Some(Err(error)) => return Err(unavailable(error)),
                    None if pending == 0 => break,
                    None => {}
                }
            }
            Ok(ends)
        })
        .await
        .map_err(unavailable)?
    }

    /// The offsets `group` has committed (the next offset it will read) on the given partitions;
    /// a partition it never committed on is absent. A job commits only what its sink has
    /// stored, so this tells a process that does not run the job how far its effects reach.
    pub async fn committed(&self, group: &str, partitions: &[(String, i32)]) -> Result<Vec<((String, i32), i64)>> {
        let config = self.consumer_config(group);
        let mut list = TopicPartitionList::new();
        for (topic, partition) in partitions {
            list.add_partition(topic, *partition);
        }
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().map_err(unavailable)?;
            let committed = consumer.committed_offsets(list, Duration::from_secs(5)).map_err(unavailable)?;
            Ok(committed
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(offset) => Some(((e.topic().to_owned(), e.partition()), offset)),
                    _ => None,
                })
                .collect())
        })
        .await
        .map_err(unavailable)?
    }

    fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.settings.brokers)
            .set("group.id", format!("{}{group}", self.settings.prefix))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", self.settings.session_timeout_ms.to_string())
            .set("heartbeat.interval.ms", (self.settings.session_timeout_ms / 6).max(100).to_string())
            // New tenants' topics are found by the pattern subscription within this time.
            .set("topic.metadata.refresh.interval.ms", "2000")
            .set("partition.assignment.strategy", "range")
            // A job retries a batch (its sink down) without polling; the member must not lose its
            // partitions meanwhile, or a second member could store the same batch. An outage
            // longer than this does make it leave the group.
            .set("max.poll.interval.ms", "3600000");
        config
    }

    /// A consumer-group member of `group`, subscribed to every behavior topic (present and
    /// future) by pattern. Offsets are committed by the caller, after its sink acknowledged.
    pub fn consumer(&self, group: &str) -> Result<StreamConsumer> {
        let consumer: StreamConsumer = self.consumer_config(group).create().map_err(unavailable)?;
        consumer.subscribe(&[&self.topic_pattern()]).map_err(unavailable)?;
        Ok(consumer)
    }

    /// The first offset of `partition` whose message was written at or after `ms` (the
    /// partition's end when there is none).
    pub async fn offset_for_time(&self, topic: &str, partition: i32, ms: i64) -> Result<i64> {
        let config = self.consumer_config("polyrec-offset-lookup");
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().map_err(unavailable)?;
            let mut query = TopicPartitionList::new();
            query.add_partition_offset(&topic, partition, Offset::Offset(ms)).map_err(unavailable)?;
            let found = consumer.offsets_for_times(query, Duration::from_secs(10)).map_err(unavailable)?;
            let offset = found.find_partition(&topic, partition).map(|p| p.offset());
            match offset {
                Some(Offset::Offset(offset)) => Ok(offset),
                // No message at or after the time: start at the end.
                _ => {
                    let (_, high) =
                        consumer.fetch_watermarks(&topic, partition, Duration::from_secs(5)).map_err(unavailable)?;
                    Ok(high)
                }
            }
        })
        .await
        .map_err(unavailable)?
    }

    /// Reads `partition` from `from` (inclusive) up to `until` (exclusive), outside any group:
    /// how a stream job rebuilds volatile state for a partition it was just given.
    pub async fn read_range(&self, topic: &str, partition: i32, from: i64, until: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        if from >= until {
            return Ok(Vec::new());
        }
        let config = self.consumer_config("polyrec-replay");
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = config.create().map_err(unavailable)?;
            let mut assignment = TopicPartitionList::new();
            assignment.add_partition_offset(&topic, partition, Offset::Offset(from)).map_err(unavailable)?;
            consumer.assign(&assignment).map_err(unavailable)?;
            let mut out = Vec::new();
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while out.last().is_none_or(|(offset, _)| *offset + 1 < until) {
                if std::time::Instant::now() > deadline {
                    return Err(unavailable(format!("replaying {topic}/{partition} timed out")));
                }
                match consumer.poll(Duration::from_millis(500)) {
                    Some(Ok(message)) => {
                        use rdkafka::Message;
                        if message.offset() >= until {
                            break;
                        }
                        out.push((message.offset(), message.payload().unwrap_or_default().to_vec()));
                    }
                    Some(Err(error)) => return Err(unavailable(error)),
                    None => {}
                }
            }
            Ok(out)
        })
        .await
        .map_err(unavailable)?
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn append(&self, events: Vec<Event>) -> Result<Vec<u64>> {
        // All or an error: the first record the broker did not take.
        self.append_each(events).await?.into_iter().collect()
    }

    fn failures_store_nothing(&self) -> bool {
        // A record whose acknowledgement timed out may be on the broker all the same.
        false
    }

    async fn append_each(&self, events: Vec<Event>) -> Result<Vec<Result<u64>>> {
        let mut payloads = Vec::with_capacity(events.len());
        for event in &events {
            let topic = self.topic(&event.tenant_id);
            self.ensure_topic(&topic).await?;
            payloads.push((topic, serde_json::to_vec(event).map_err(Error::internal)?));
        }
        let records = events.iter().zip(&payloads).map(|(event, (topic, payload))| Outgoing {
            topic,
            key: event.user_id.as_str(),
            payload,
            timestamp_ms: Some(event.received_ms),
        });
        let outcomes = self.send_each(records).await?;
        Ok(outcomes.into_iter().map(|outcome| outcome.map(|offset| offset as u64)).collect())
    }

    async fn count(&self, tenant: &TenantId) -> Result<u64> {
        let topic = self.topic(tenant);
        let marks = self.end_offsets().await?;
        Ok(marks.iter().filter(|(t, ..)| *t == topic).map(|(_, _, high)| (*high).max(0) as u64).sum())
    }

    async fn check(&self) -> Result<()> {
        self.behavior_topics().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn distinct_tenants_get_distinct_topics_as_kafka_compares_them() {
        let long_underscores = "_".repeat(128);
        let long_dots = format!("a{}", ".".repeat(127));
        let near_the_limit = format!("{}_h0123456789abcdef", "x".repeat(100));
        let tenants = [
            "tenant_123",
            "tenant..123",
            "tenant.123",
            "tenant@123",
            "tenant_d123",
            "tenant_a123",
            "a_",
            "a.",
            "a@",
            "a__",
            "a_d",
            "a_.",
            "._",
            "_.",
            "@.",
            long_underscores.as_str(),
            long_dots.as_str(),
            near_the_limit.as_str(),
        ];
        let mut seen: HashMap<String, &str> = HashMap::new();
        for tenant in tenants {
            let topic = topic_of("polyrec.", &TenantId::parse(tenant).unwrap());
            assert!(topic.len() <= MAX_TOPIC_LEN, "{tenant}: {} characters", topic.len());
            assert!(topic.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{topic}");
            // Kafka refuses a topic whose name equals another's with `.` read as `_`.
            let as_kafka_compares = topic.replace('.', "_");
            if let Some(other) = seen.insert(as_kafka_compares, tenant) {
                panic!("{tenant:?} and {other:?} share a topic ({topic})");
            }
        }
        assert_eq!(topic_of("", &TenantId::parse("a@b_c").unwrap()), "user-behaviors-a_ab__c");
        assert_eq!(topic_of("", &TenantId::parse("t.1").unwrap()), "user-behaviors-t_d1");
        // The README's examples (the SPEC's `mymx`, and the two ids that used to collide).
        assert_eq!(topic_of("", &TenantId::parse("mymx").unwrap()), "user-behaviors-mymx");
        assert_eq!(topic_of("", &TenantId::parse("tenant_123").unwrap()), "user-behaviors-tenant__123");
        assert_eq!(topic_of("", &TenantId::parse("tenant..123").unwrap()), "user-behaviors-tenant_d_d123");
    }

    #[test]
    fn replication_is_what_the_cluster_can_hold_unless_configured() {
        let defaults = KafkaSettings::from_url("kafka://b:9092").unwrap();
        assert!(defaults.idempotence);
        let of = |settings: &KafkaSettings, brokers| settings.replication(brokers).map(|r| (r.factor, r.min_insync));
        assert_eq!(of(&defaults, 1).unwrap(), (1, 1));
        assert_eq!(of(&defaults, 2).unwrap(), (2, 1));
        assert_eq!(of(&defaults, 3).unwrap(), (3, 2));
        assert_eq!(of(&defaults, 9).unwrap(), (3, 2));
        let set =
            KafkaSettings::from_url("kafka://b:9092?replication_factor=5&min_insync_replicas=3&partitions=24").unwrap();
        assert_eq!((of(&set, 5).unwrap(), set.partitions), ((5, 3), 24));
        let too_many = of(&set, 3).unwrap_err().to_string();
        assert!(too_many.contains("3 broker"), "{too_many}");
        let insync = KafkaSettings::from_url("kafka://b?replication_factor=2&min_insync_replicas=3").unwrap();
        assert!(of(&insync, 3).unwrap_err().to_string().contains("min_insync_replicas=3"));
        assert!(!KafkaSettings::from_url("kafka://b?idempotence=false").unwrap().idempotence);
        assert!(KafkaSettings::from_url("kafka://b?idempotence=maybe").is_err());
    }
}
