//! Tests: phone.
