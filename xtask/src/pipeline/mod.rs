//! The pipeline behind `build-image`, `dev` and `ci`, one stage per module, in order:
//!
//! 1. [`plan`]: targets, names, closures, wheel jobs and the locked third-party set, all
//!    checked without the engine;
//! 2. [`toolchain`]: the pinned build image, built once for every project;
//! 3. [`fetch`]: locked third-party wheels, the only step that uses the network;
//! 4. [`wheels`]: local wheels built offline, metadata fixed, cached by content;
//! 5. [`stage`]: the build context, written only when the image is not up to date;
//! 6. [`build`]: the engine build, labels, fingerprint no-op and push.
//!
//! [`probe`] reads each runtime image's Python once per image id, for plan. [`dev`] reuses
//! plan, fetch and stage for the dev environment; [`affected`] maps a git change to the
//! projects to rebuild. Stages take and return typed values and report progress through
//! the session; commands parse arguments, call them and print.

pub mod affected;
pub mod assemble;
pub mod build;
pub mod dev;
pub mod fetch;
pub mod plan;
pub mod platforms;
pub mod probe;
pub mod shared;
pub mod stage;
pub mod toolchain;
pub mod wheels;
