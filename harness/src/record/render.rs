//! Writing a recorded scenario: the scenario's own types serialized, so the file is what the
//! runner reads, with comments above the steps that need a person (`FILL IN`) or an
//! explanation; the text is read back and compared before it is handed out.

use std::path::Path;

use serde::Serialize;

use super::RecordError;
use crate::scenario::{Scenario, Setup, Step};

/// Where a comment line breaks.
const WIDTH: usize = 96;

/// The mark of a place that needs a person.
pub const FILL_IN: &str = "FILL IN";

/// A scenario built from a recording, with its comments.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The scenario.
    pub scenario: Scenario,
    /// Comment lines at the top of the file.
    header: Vec<String>,
    /// Comment lines above each step.
    notes: Vec<Vec<String>>,
    /// Comment lines after the last step.
    trailer: Vec<String>,
    /// What the person running the command should know (printed, not written).
    pub warnings: Vec<String>,
}

/// The file's keys before `steps`, as the scenario type writes them.
#[derive(Serialize)]
struct Head<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "is_empty")]
    setup: &'a Setup,
}

fn is_empty(s: &&Setup) -> bool {
    serde_json::to_value(s).is_ok_and(|v| v.as_object().is_none_or(|o| o.is_empty()))
}

impl Recorded {
    pub(super) fn new(
        scenario: Scenario,
        header: Vec<String>,
        notes: Vec<Vec<String>>,
        trailer: Vec<String>,
        warnings: Vec<String>,
    ) -> Self {
        Self {
            scenario,
            header,
            notes,
            trailer,
            warnings,
        }
    }

    /// How many places need a person.
    pub fn fill_ins(&self) -> usize {
        self.header
            .iter()
            .chain(self.notes.iter().flatten())
            .chain(&self.trailer)
            .filter(|n| n.contains(FILL_IN))
            .count()
    }

    /// The comments above step `i` (0-based).
    pub fn notes(&self, i: usize) -> &[String] {
        self.notes.get(i).map_or(&[], Vec::as_slice)
    }

    /// The scenario file, read back before it is returned: a text that would not load as
    /// this same scenario is an error, never a file.
    pub fn to_yaml(&self) -> Result<String, RecordError> {
        let mut out = String::new();
        let intro = [
            "Recorded by `harness record`: the session replayed. The mini-program's calls are \
             `wx.*` steps, the WeChat calls of your backend (or of curl) are backend steps with \
             what a correct backend answers, faults and clock moves come where they happened."
                .to_owned(),
            match self.fill_ins() {
                0 => "Rename it and say why it matters; nothing else needs you.".to_owned(),
                n => format!(
                    "Rename it and say why it matters; lines marked {FILL_IN} need you ({n} here)."
                ),
            },
        ];
        for line in intro.iter().chain(&self.header) {
            comment(&mut out, "", line);
        }
        let s = &self.scenario;
        let head = Head {
            name: &s.name,
            description: s.description.as_deref(),
            tags: &s.tags,
            setup: &s.setup,
        };
        out.push_str(&yaml(&head)?);
        out.push_str("steps:\n");
        for (i, step) in s.steps.iter().enumerate() {
            for line in self.notes(i) {
                comment(&mut out, "  ", line);
            }
            for line in yaml(&[step] as &[&Step])?.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        for line in &self.trailer {
            comment(&mut out, "  ", line);
        }
        let back = Scenario::parse(Path::new("recorded.yaml"), &out)
            .map_err(|e| RecordError::Unreadable(e.to_string()))?;
        let same = serde_json::to_value(&back).ok() == serde_json::to_value(s).ok();
        if !same {
            return Err(RecordError::Unreadable(
                "the text reads back as another scenario".into(),
            ));
        }
        Ok(out)
    }
}

fn yaml<T: Serialize + ?Sized>(v: &T) -> Result<String, RecordError> {
    yaml_serde::to_string(v).map_err(|e| RecordError::Unreadable(e.to_string()))
}

/// Appends `text` as comment lines, broken between words.
fn comment(out: &mut String, indent: &str, text: &str) {
    let room = WIDTH.saturating_sub(indent.len() + 2).max(20);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            out.push_str(&format!("{indent}# {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&format!("{indent}# {line}\n").replace("# \n", "#\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_break_between_words() {
        let mut out = String::new();
        let long = "word ".repeat(40);
        comment(&mut out, "  ", &long);
        assert!(out.lines().count() > 1, "{out}");
        for line in out.lines() {
            assert!(line.starts_with("  # word"), "{line:?}");
            assert!(line.len() <= WIDTH, "{line:?}");
        }
    }
}
