//! Prometheus metrics: logins, upstream calls and errors by errcode, request latencies. Served
//! in the text format at `/metrics`.

use std::fmt;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::wechat::{Endpoint, UpstreamObserver, WeChatError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamErrorLabels {
    endpoint: &'static str,
    errcode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SealLabels {
    key: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    logins: Family<LoginLabels, Counter>,
    upstream_calls: Family<UpstreamLabels, Counter>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    upstream_latency: Histograms<UpstreamLabels>,
    requests: Family<RequestLabels, Counter>,
    request_latency: Histograms<RouteLabels>,
    sealed_opened: Family<SealLabels, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        Self::labelled(None)
    }

    /// Registers every metric; with an instance id, every series carries
    /// `instance_id="<id>"`, so the series of several instances behind one balancer stay apart
    /// (a label of its own: Prometheus sets `instance` to the scraped address).
    pub fn labelled(instance_id: Option<&str>) -> Self {
        let labels = instance_id.map(|id| {
            (
                std::borrow::Cow::Borrowed("instance_id"),
                std::borrow::Cow::Owned(id.to_owned()),
            )
        });
        let mut registry = Registry::with_prefix_and_labels("login_core", labels.into_iter());
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "logins",
            "Logins by result (new, returning, or the error code)",
            logins.clone(),
        );
        let upstream_calls = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_calls",
            "Calls to WeChat by endpoint, retries included",
            upstream_calls.clone(),
        );
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        registry.register(
            "upstream_errors",
            "Failed calls to WeChat by endpoint and errcode (or transport failure)",
            upstream_errors.clone(),
        );
        let upstream_latency: Histograms<UpstreamLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "upstream_duration_seconds",
            "Latency of calls to WeChat",
            upstream_latency.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let request_latency: Histograms<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Latency of HTTP requests by route",
            request_latency.clone(),
        );
        let sealed_opened = Family::<SealLabels, Counter>::default();
        registry.register(
            "sealed_values_opened",
            "Sealed values opened, by the server key that sealed them (current, or a previous one: while these grow, the previous key is still needed)",
            sealed_opened.clone(),
        );
        Self {
            registry,
            logins,
            upstream_calls,
            upstream_errors,
            upstream_latency,
            requests,
            request_latency,
            sealed_opened,
        }
    }

    /// Counts a stored value opened, under the current key or a previous one.
    pub fn sealed_opened(&self, current: bool) {
        let key = if current { "current" } else { "previous" };
        self.sealed_opened.get_or_create(&SealLabels { key }).inc();
    }

    /// Counts a login by its result.
    pub fn login(&self, result: &str) {
        self.logins
            .get_or_create(&LoginLabels {
                result: result.to_owned(),
            })
            .inc();
    }

    /// Counts an HTTP request.
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.request_latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl UpstreamObserver for Metrics {
    fn observe(&self, endpoint: Endpoint, outcome: Result<(), &WeChatError>, elapsed: Duration) {
        let labels = UpstreamLabels {
            endpoint: endpoint.as_str(),
        };
        self.upstream_calls.get_or_create(&labels).inc();
        self.upstream_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if let Err(e) = outcome {
            self.upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    endpoint: endpoint.as_str(),
                    errcode: e.label(),
                })
                .inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_carries_counts_and_labels() {
        let m = Metrics::new();
        m.login("new");
        m.login("new");
        m.observe(
            Endpoint::Code2Session,
            Err(&WeChatError::Api {
                errcode: 40029,
                errmsg: "invalid code".into(),
            }),
            Duration::from_millis(3),
        );
        m.request("/api/login", "POST", 200, Duration::from_millis(4));
        let text = m.encode();
        assert!(
            text.contains("login_core_logins_total{result=\"new\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "login_core_upstream_errors_total{endpoint=\"jscode2session\",errcode=\"40029\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("login_core_http_request_duration_seconds_count{route=\"/api/login\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn an_instance_id_labels_every_series() {
        let m = Metrics::labelled(Some("core-b"));
        m.login("new");
        m.sealed_opened(false);
        m.request("/api/me", "GET", 200, Duration::from_millis(1));
        let text = m.encode();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert!(!series.is_empty());
        for line in series {
            assert!(line.contains("instance_id=\"core-b\""), "{line}");
        }
    }
}
