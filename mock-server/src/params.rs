//! Query parameters (and, for Tencent Cloud, request headers) as the vendor surface reads them:
//! in order, the first occurrence of a name winning, empty values counting as absent. Free of
//! everything else in the crate, so every layer can read them.

/// Query parameters in order; the first occurrence of a name wins, empty values count as absent.
///
/// The names and values live in one string, each pair a span of it: two allocations per
/// request instead of one per name and value.
#[derive(Clone, Debug, Default)]
pub struct Params {
    text: String,
    /// (start of the name, its end = start of the value, end of the value) in `text`.
    spans: Vec<(usize, usize, usize)>,
}

impl Params {
    /// Parses a raw query string leniently (bad escapes are kept as they are).
    pub fn parse(query: Option<&str>) -> Self {
        let query = query.unwrap_or("");
        if query.contains(['%', '+']) {
            let decoded: Vec<(String, String)> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            let mut params = Self::default();
            for (name, value) in &decoded {
                params.push(name, value);
            }
            return params;
        }
        // Nothing to decode, as in nearly every query: split the pairs as the form decoder
        // does (`&` between pairs, empty ones skipped, the first `=` ends the name) without
        // its byte-by-byte decoding pass.
        let mut params = Self {
            text: String::with_capacity(query.len()),
            spans: Vec::with_capacity(8),
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push(name, value);
        }
        params
    }

    /// A request's headers as parameters, names lowercase: API 3.0's common parameters travel
    /// in headers (`X-TC-Action`, `Authorization`, ...), and the signature covers some of them.
    /// Values that are not UTF-8 are kept lossily (their signature cannot match anyway).
    pub fn from_headers(headers: &axum::http::HeaderMap) -> Self {
        let mut params = Self::default();
        for (name, value) in headers {
            params.push(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        params
    }

    fn push(&mut self, name: &str, value: &str) {
        let start = self.text.len();
        self.text.push_str(name);
        let middle = self.text.len();
        self.text.push_str(value);
        self.spans.push((start, middle, self.text.len()));
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }

    /// All pairs, in order, for the journal.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(start, middle, end)| {
            (
                self.text.get(start..middle).unwrap_or_default(),
                self.text.get(middle..end).unwrap_or_default(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Params;

    proptest! {
        #[test]
        fn params_parse_as_the_form_decoder_does(query in "[a-z=&%+2Ö_]{0,24}") {
            let full: Vec<(String, String)> =
                serde_urlencoded::from_str(&query).unwrap_or_default();
            let ours: Vec<(String, String)> = Params::parse(Some(&query))
                .pairs()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            prop_assert_eq!(ours, full);
        }
    }
}
