//! The tamper-evident transparency log of supply-chain events: signed events (`event`), the
//! validation rules as a deterministic state machine (`state`), the Merkle tree in memory
//! (`tree`), the C2SP tlog-tiles formats (`tiles`), the files on disk (`store`) and the ledger
//! that sequences, appends durably and serves reads (`log`).

pub mod event;
pub mod log;
mod shards;
pub mod state;
pub mod store;
pub mod tiles;
pub mod tree;

pub use event::{Entry, EntryError, Event, EventType, Subject};
pub use log::{Config, Ledger, LedgerError, OpenReport, ReadError, Receipt, SubmitError};
pub use state::{Applied, Authorities, Rejection, State, Submitter};
