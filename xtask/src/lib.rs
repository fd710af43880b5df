//! xtask as a library: the monorepo model, the image pipeline and the engine, shared by the
//! binary (`main.rs`) and its integration tests.

pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod files;
pub mod git;
pub mod hash;
pub mod hostenv;
pub mod image;
pub mod model;
pub mod net;
pub mod oci;
pub mod pipeline;
pub mod runs;
pub mod runtime;
pub mod session;
pub mod ui;
pub mod wheel;

#[cfg(test)]
mod testing;

/// The repo this xtask lives in: the parent of the crate's folder.
pub fn project_root() -> camino::Utf8PathBuf {
    camino::Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the repo root")
        .to_owned()
}
