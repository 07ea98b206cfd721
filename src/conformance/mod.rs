//! Conformance: run an interpreter's own test suite under the embedded
//! runtime, hold the results against a baseline in the repo
//! (`tests/baseline/<interp>.toml`), and write reports (terminal table,
//! JSON, JUnit XML, HTML).

pub mod model;
pub mod phpt;
pub mod regrtest;
pub mod report;
pub mod rubytest;
pub mod suite;
pub mod table;

use anyhow::Result;

pub use model::*;

use crate::recipe::RunnerKind;

/// The runner a recipe names.
pub fn runner<'a>(kind: RunnerKind, env: SuiteEnv<'a>) -> Result<Box<dyn Runner + 'a>> {
    Ok(match kind {
        RunnerKind::Phpt => Box::new(phpt::PhptEnv::new(env)?),
        RunnerKind::Regrtest => Box::new(regrtest::Regrtest::new(env)?),
        RunnerKind::RubyBootstraptest => Box::new(rubytest::RubyTest::new(env)?),
    })
}

/// The arguments after argv0 that a runner gives every test, as far as
/// they select the interpreter's start-up: a start-up snapshot taken with
/// them fits the tests that add nothing to them.
pub fn fixed_args(suite: &crate::recipe::Conformance) -> Vec<String> {
    match suite.runner {
        RunnerKind::Phpt => phpt::fixed_args(&suite.ini),
        RunnerKind::Regrtest | RunnerKind::RubyBootstraptest => Vec::new(),
    }
}
