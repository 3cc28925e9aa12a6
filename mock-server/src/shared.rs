//! What every handler shares: the engine, the journal, the request-id source and the control
//! token, built once from the config.

use crate::config::Config;
use crate::engine::{Engine, EngineError};
use crate::journal::Journal;
use crate::wire::RidSource;

/// What every handler shares.
pub struct Shared {
    /// Rules and state.
    pub engine: Engine,
    /// Request journal.
    pub journal: Journal,
    /// Request-id source for errmsg suffixes.
    pub rids: RidSource,
    /// Bearer token the control plane requires, if any.
    pub control_token: Option<String>,
}

impl Shared {
    /// Builds the shared state from a config.
    pub fn new(config: &Config) -> Result<Self, EngineError> {
        let engine = Engine::new(&config.seed, config.seed_file.clone(), config.clock.clone())?;
        let journal = Journal::new(engine.options().journal_capacity);
        let rids = RidSource::new(engine.generator().clone());
        Ok(Self {
            engine,
            journal,
            rids,
            control_token: config.control_token.clone(),
        })
    }
}
