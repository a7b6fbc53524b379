//! The core floor: the formats, rules and plumbing every other floor shares, and that know no
//! stage, site back end, service or front end.
//!
//! Formats: [`catalog`], [`freshness`], [`signing`], [`cabinet`] (with [`cab_names`] and [`cab_layout`]),
//! [`document`], [`offer`], [`packdir`], [`volume`], [`usage`], [`usage_cab`], [`review`],
//! [`wire`] (the HTTP contract between `sct-upload` and `sct-serve`). Rules: [`select`],
//! [`version`], [`paths`], [`litter`]. Plumbing: [`atomic`] and
//! [`medium`] (files), [`hash`], [`logging`] and [`cmtrace`] (logs), [`report`] (what a person is
//! told), [`error`] (exit classes), [`escape`], [`secret`], [`setting`], [`text`] (files as Windows editors save them), [`clock`], [`fault`].

pub mod atomic;
pub mod cab_layout;
pub mod cab_names;
pub mod cabinet;
pub mod catalog;
pub mod clock;
pub mod cmtrace;
pub mod document;
pub mod error;
pub mod escape;
pub mod fault;
pub mod freshness;
pub mod hash;
pub mod litter;
pub mod lock;
pub mod logging;
pub mod medium;
pub mod offer;
pub mod owner_only;
pub mod packdir;
pub mod paths;
pub mod pool;
pub mod removable;
pub mod report;
pub mod review;
pub mod runtime;
pub mod secret;
pub mod select;
pub mod setting;
pub mod signing;
pub mod space;
pub mod text;
pub mod usage;
pub mod usage_cab;
pub mod version;
pub mod volume;
pub mod wire;
