//! A Kafka subscription dropped without `close` (its runtime shutting down, as at the end of
//! every test) still closes its consumer. Leaked consumers went on heartbeating and fetching in
//! the HTTP test binary, whose every test ends a runtime, and slowed the shared broker until its
//! later tests timed out connecting to it.
//!
//! A binary of its own: it counts this process's librdkafka threads, which other tests running
//! beside it would change. Needs `POLYREC_TEST_KAFKA_URL` (see `tests/conformance/main.rs`).
#![cfg(feature = "kafka")]

#[allow(dead_code)] // The conformance suites' helpers, of which this test needs two.
#[path = "conformance/support.rs"]
mod support;

/// librdkafka names its threads `rdk:main`, `rdk:broker…`; each client has one `rdk:main`.
fn kafka_clients() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "rdk:main")
        .count()
}

#[tokio::test]
async fn a_kafka_subscription_dropped_without_close_closes_its_consumer() {
    use polyrec_core::EventType::Click;
    use polyrec_storage::production::kafka::{KafkaBus, KafkaSettings};
    use polyrec_storage::{EventBus, StreamLog};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use support::{record, server, unique};

    let Some(url) = server("POLYREC_TEST_KAFKA_URL") else { return };
    let prefix = unique("close");
    let bus = Arc::new(
        KafkaBus::connect(KafkaSettings::from_url(&format!("{url}?partitions=1&prefix={prefix}.")).unwrap())
            .await
            .unwrap(),
    );
    let events = (0..3).map(|i| record(i, "acme", "s", "u", "i", Click, 1_768_471_350_000 + i as i64).event).collect();
    bus.append(events).await.unwrap();
    let before = kafka_clients();

    let mut subscription = bus.clone().subscribe(&unique("group"), None).await.unwrap();
    let (mut read, deadline) = (0, Instant::now() + Duration::from_secs(60));
    while read < 3 {
        assert!(Instant::now() < deadline, "the subscription read {read} of 3 events");
        let batch = subscription.next_batch(10, Duration::from_millis(500)).await.unwrap();
        read += batch.iter().map(|(_, records)| records.len()).sum::<usize>();
    }
    assert_eq!(kafka_clients(), before + 1, "the subscription's consumer is a client of its own");

    drop(subscription);
    let deadline = Instant::now() + Duration::from_secs(30);
    while kafka_clients() > before {
        assert!(Instant::now() < deadline, "the dropped subscription's consumer is still running after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
