//! The service floor: the reference update service. [`publish`] turns a folder of packs into a
//! signed catalog, [`serve`] serves it and receives usage cabs, [`tls`] loads its certificate;
//! [`samples`] are the demo's and the tests' sample packs.

pub mod publish;
pub mod samples;
pub mod serve;
pub mod tls;
