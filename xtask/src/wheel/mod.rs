//! Wheels: their file names, fixing path-dependency metadata, installing, and the cache.

pub mod cache;
pub mod install;
pub mod name;
pub mod requires;
pub mod rewrite;
pub mod sdist;

pub use name::WheelName;
