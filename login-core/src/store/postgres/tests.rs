//! Tests of the PostgreSQL store alone.
