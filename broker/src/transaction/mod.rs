//! # Transactions: atomic writes across partitions (KIP-98)
//!
//! A transactional producer (`transactional.id`) writes to several partitions, and
//! either all of its writes become visible to `read_committed` consumers or none do. One
//! broker, the id's *transaction coordinator* (the leader of the id's
//! `__transaction_state` partition, [`state_topic`]), runs the protocol:
//!
//! 1. **InitProducerId** gives the id a producer id and a fresh epoch; an older instance
//!    with the same id is fenced (its epoch is stale) and its open transaction aborted;
//! 2. **AddPartitionsToTxn** names each partition before the producer writes to it, and
//!    the producer's batches carry the transactional bit;
//! 3. **EndTxn** commits or aborts: the coordinator writes its decision (PrepareCommit or
//!    PrepareAbort) to `__transaction_state`, then asks each partition's leader to append
//!    a *transaction marker* ([`markers`]), then writes CompleteCommit or CompleteAbort.
//!
//! A partition's leader, for its part, lets a transactional batch open a transaction only
//! once the coordinator confirms the partition is in the producer's transaction
//! ([`verification`], KIP-890), and refuses markers from a coordinator older than the
//! last one it heard ([`markers`]).
//!
//! Every state change is a record in the replicated `__transaction_state` topic, so a
//! broker that becomes leader of one of its partitions loads the transactions there and
//! finishes what its predecessor decided ([`coordinator`], [`routing`]), and the
//! coordinator's timer aborts a transaction left open past `transaction.timeout.ms`.
//!
//! Simplifications, visible on purpose (`docs/architecture.md`): the coordinator speaks
//! transaction version 1 (KIP-890's version 2 needs a finalized `transaction.version`
//! feature, and kraftsim finalizes none, so clients do not ask for it); transactional ids
//! never expire (`transactional.id.expiration.ms`); `__transaction_state` is not compacted.

pub mod coordinator;
pub mod markers;
pub mod metadata;
pub mod routing;
pub mod state_topic;
pub mod verification;

pub use coordinator::{TransactionCoordinator, TxnRequest, TxnResponse};
