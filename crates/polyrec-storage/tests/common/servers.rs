//! Finding the production test servers, shared by the storage conformance suites and the fault
//! tests of the `polyrec` crate (which include this file by path).

/// The URL of a production test server, or `None` (the test is skipped) when it is not
/// configured — unless `POLYREC_REQUIRE_SERVERS` is set, when a missing server is a failure.
pub fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("POLYREC_REQUIRE_SERVERS").is_some() => {
            panic!("{var} is not set but POLYREC_REQUIRE_SERVERS is: start the servers with scripts/servers.sh")
        }
        _ => {
            eprintln!("skipped: {var} is not set (scripts/servers.sh starts the test servers)");
            None
        }
    }
}

/// A name unique to this test run, usable as a tenant id, a database name or a key prefix.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
