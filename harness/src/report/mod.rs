//! Reports: the console (for people), JUnit XML and JSON (for CI).

pub mod console;
