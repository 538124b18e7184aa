//! The event bus, producer side: what is acknowledged is counted, per tenant, and can be read.

use polyrec_core::EventType::Click;
use polyrec_storage::EventBus;

use crate::support::*;

fn events(tenant: &str, users: usize, n: usize) -> Vec<polyrec_core::Event> {
    (0..n)
        .map(|i| {
            record(i as u64, tenant, "s", &format!("u{}", i % users), "i", Click, 1_768_471_350_000 + i as i64).event
        })
        .collect()
}

async fn counts_every_acknowledged_event_per_tenant(bus: &dyn EventBus, a: &str, b: &str) {
    assert_eq!(bus.append(events(a, 7, 1_000)).await.unwrap().len(), 1_000);
    bus.append(events(a, 3, 5)).await.unwrap();
    bus.append(events(b, 1, 2)).await.unwrap();
    assert_eq!(bus.count(&tenant(a)).await.unwrap(), 1_005);
    assert_eq!(bus.count(&tenant(b)).await.unwrap(), 2);
    bus.check().await.unwrap();
}

#[tokio::test]
async fn embedded_bus_counts_every_acknowledged_event_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let bus = polyrec_storage::SqliteEventBus::open(&dir.path().join("events.db")).unwrap();
    counts_every_acknowledged_event_per_tenant(&bus, &unique("a"), &unique("b")).await;
}

#[cfg(feature = "kafka")]
#[tokio::test]
async fn kafka_bus_counts_every_acknowledged_event_per_tenant() {
    use polyrec_storage::production::kafka::{KafkaBus, KafkaSettings};
    let Some(url) = server("POLYREC_TEST_KAFKA_URL") else { return };
    let settings = KafkaSettings::from_url(&format!("{url}?partitions=3&prefix={}.", unique("conf"))).unwrap();
    let bus = KafkaBus::connect(settings).await.unwrap();
    let (a, b) = (unique("a"), unique("b"));
    counts_every_acknowledged_event_per_tenant(&bus, &a, &b).await;
    // Each event is on its tenant's topic, keyed by user: one user's events share a partition.
    let topic = bus.topic(&tenant(&a));
    let mut users_by_partition: Vec<std::collections::HashSet<String>> = Vec::new();
    let mut total = 0;
    for (t, partition, end) in bus.end_offsets().await.unwrap() {
        if t != topic {
            continue;
        }
        let records = bus.read_range(&topic, partition, 0, end).await.unwrap();
        total += records.len();
        let users = records
            .iter()
            .map(|(_, payload)| serde_json::from_slice::<polyrec_core::Event>(payload).unwrap())
            .inspect(|event| assert_eq!(event.tenant_id.as_str(), a))
            .map(|event| event.user_id.to_string())
            .collect();
        users_by_partition.push(users);
    }
    assert_eq!(total, 1_005);
    for (i, users) in users_by_partition.iter().enumerate() {
        for other in &users_by_partition[i + 1..] {
            assert!(users.is_disjoint(other), "a user's events are in one partition");
        }
    }
}

/// A tenant's topic is made on its first event with the default partition count (SPEC §3.3: 12).
#[cfg(feature = "kafka")]
#[tokio::test]
async fn kafka_topics_are_made_per_tenant_with_twelve_partitions() {
    use polyrec_storage::production::kafka::{KafkaBus, KafkaSettings};
    let Some(url) = server("POLYREC_TEST_KAFKA_URL") else { return };
    let prefix = unique("conf");
    let settings = KafkaSettings::from_url(&format!("{url}?prefix={prefix}.")).unwrap();
    assert_eq!((settings.partitions, settings.retention_ms), (12, 7 * 24 * 3_600_000));
    let bus = KafkaBus::connect(settings).await.unwrap();
    assert!(bus.behavior_topics().await.unwrap().is_empty());
    bus.append(events("acme", 1, 1)).await.unwrap();
    bus.append(events("a@b_c", 1, 1)).await.unwrap();
    let mut topics = bus.behavior_topics().await.unwrap();
    topics.sort();
    assert_eq!(
        topics,
        [(format!("{prefix}.user-behaviors-a_ab__c"), 12), (format!("{prefix}.user-behaviors-acme"), 12)],
        "`@` and `_` are escaped so that distinct tenants get distinct topics"
    );
    let retention = bus.topic_retention_ms(&format!("{prefix}.user-behaviors-acme")).await.unwrap();
    assert_eq!(retention, Some(7 * 24 * 3_600_000), "SPEC §3.3: 7-day retention");
    // The test server is one broker: one replica, one in sync (and a warning logged); three
    // brokers would get 3 and 2 (`KafkaSettings::replication`'s unit test).
    let replication = bus.replication();
    assert_eq!((replication.factor, replication.min_insync), (1, 1));
    let min_insync = bus.topic_config(&format!("{prefix}.user-behaviors-acme"), "min.insync.replicas").await.unwrap();
    assert_eq!(min_insync.as_deref(), Some("1"), "the topic is created with min.insync.replicas");
}
