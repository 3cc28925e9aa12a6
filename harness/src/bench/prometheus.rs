//! Reads login-core's Prometheus text (`GET /metrics`) for the server's own side of a run: the
//! mean time of a login inside the server, and of its jscode2session call.

use serde_json::{Value, json};

/// Mean server-side latencies, in milliseconds, from login-core's Prometheus text at
/// `{base}/metrics` (histogram sums over counts): `api_login_mean_ms` (`POST /api/login`) and
/// `jscode2session_mean_ms` (the upstream call); `null` where there is nothing to divide, and
/// `null` as a whole where `/metrics` does not answer.
pub async fn server_breakdown(base: &str) -> Value {
    let text = match reqwest::get(format!("{base}/metrics")).await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => return Value::Null,
    };
    breakdown(&text)
}

/// The means of [`server_breakdown`] from Prometheus text.
fn breakdown(text: &str) -> Value {
    let total = |prefix: &str, must: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(must))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let mean = |name: &str, must: &str| {
        let n = total(&format!("login_core_{name}_count"), must);
        (n > 0.0).then(|| total(&format!("login_core_{name}_sum"), must) / n * 1000.0)
    };
    json!({
        "api_login_mean_ms": mean("http_request_duration_seconds", "/api/login"),
        "jscode2session_mean_ms": mean("upstream_duration_seconds", "jscode2session"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_come_from_sums_and_counts() {
        let text = "\
# TYPE login_core_http_request_duration_seconds histogram
login_core_http_request_duration_seconds_sum{method=\"POST\",route=\"/api/login\"} 0.5
login_core_http_request_duration_seconds_count{method=\"POST\",route=\"/api/login\"} 100
login_core_http_request_duration_seconds_sum{method=\"GET\",route=\"/readyz\"} 9
login_core_http_request_duration_seconds_count{method=\"GET\",route=\"/readyz\"} 1
";
        let v = breakdown(text);
        assert_eq!(v["api_login_mean_ms"].as_f64(), Some(5.0));
        assert!(v["jscode2session_mean_ms"].is_null());
    }
}
