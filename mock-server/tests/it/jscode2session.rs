//! Tests: jscode2session.
