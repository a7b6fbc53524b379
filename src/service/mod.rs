//! The service floor: the reference update service. [`publish`] turns a folder of packs into a
//! signed catalog, [`serve`] serves it and receives usage cabs, [`tls`] loads its certificate;
//! [`timestamp`] keeps its freshness statement fresh; [`pack_metadata`] is the `packs.json` that publishing reads; [`samples`] are the demo's and the
//! tests' sample packs (the `demo` feature).

pub mod pack_metadata;
pub mod publish;
#[cfg(any(test, feature = "demo"))]
pub mod samples;
pub mod serve;
pub mod timestamp;
pub mod tls;
