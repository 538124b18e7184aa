//! Conformance suites: one per storage trait, run against the embedded backend always and
//! against each production backend whose server is configured (DESIGN §2). Both must give the
//! same answers to the same calls.
//!
//! Production servers come from the environment (`scripts/servers.sh` starts them and exports
//! these): `POLYREC_TEST_MONGO_URL`, `POLYREC_TEST_REDIS_URL`, `POLYREC_TEST_REDIS_CLUSTER_URL`
//! (`redis+cluster://…`, three masters; the realtime suite again), `POLYREC_TEST_CLICKHOUSE_URL`,
//! `POLYREC_TEST_KAFKA_URL` and `POLYREC_TEST_MILVUS_URL` (`http://127.0.0.1:PORT`, milvus-lite; the
//! vector suite, with the `milvus` feature).
//! With `POLYREC_REQUIRE_SERVERS=1` (set by `scripts/test.sh`) a missing server fails the test
//! instead of skipping it, so CI cannot pass without running every backend.

mod bus;
mod documents;
mod realtime;
mod support;
mod vector;
mod warehouse;
