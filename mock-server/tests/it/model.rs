//! Model-based test of the mock: random sequences of operations (mint a code, exchange it from
//! the right or the wrong app, exchange twice, move the clock across the 5-minute and 7200 s
//! edges, rotate and reset session keys, fetch and force-refresh access tokens, arm faults,
//! change users' risk knobs and ask getuserriskrank, issue phone data and check it across its
//! 3 days, make user encrypt keys and list them across their hour, pay, ask quota/get, clear the
//! quota, cross midnight and the month in China, create and authorise a
//! third-party platform, push tickets and move across their 10-minute and 12-hour edges, fetch
//! component tokens, exchange codes through the platform (also racing a plain exchange of the
//! same code), mint and trade plugin codes) run
//! against a fresh mock and against a small reference model of WeChat's rules written from
//! `wechat-api.md`; every answer must agree. A failure shrinks to the shortest sequence.
//!
//! 64 cases of up to 30 operations by default; `PROPTEST_CASES` changes the number of cases
//! (and `PROPTEST_RNG_SEED` fixes the generator).

mod ops;
mod reference;
mod runner;

use proptest::test_runner::{Config, TestError, TestRunner, contextualize_config};

const DEFAULT_CASES: u32 = 64;
const MAX_OPS: usize = 30;

#[test]
fn the_mock_agrees_with_the_reference_model() {
    // Our default of 64 cases, then the PROPTEST_* environment variables over it. No
    // regression files: the failure message carries the shrunk sequence.
    let config = contextualize_config(Config {
        cases: DEFAULT_CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = TestRunner::new(config);
    match runner.run(&ops::case(MAX_OPS), |case| rt.block_on(runner::run(&case))) {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => panic!(
            "the mock and the reference model disagree.\n\nshortest failing sequence:\n{case:?}\n\
             trace:\n{reason}"
        ),
        Err(TestError::Abort(reason)) => panic!("model test aborted: {reason}"),
    }
}
