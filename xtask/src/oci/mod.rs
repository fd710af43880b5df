//! OCI images assembled by xtask: deterministic layers, the base image's config and layers,
//! the image config and manifest, and the places an image goes (the engine, an OCI layout
//! folder, a registry).

pub mod base;
pub mod image;
pub mod layer;
pub mod output;
pub mod platform;
pub mod registry;
