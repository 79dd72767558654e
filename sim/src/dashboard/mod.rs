//! # The dashboard: one page that draws a cluster's replication
//!
//! A learner watches replication happen: which node leads each partition, who is in the
//! ISR (the in-sync replicas, Kafka's `Partition.inSyncReplicaIds`), and how far each
//! replica's log end offset (LEO) and the leader's high watermark (HW) have come, so a
//! lagging follower and a HW waiting for it can be seen rather than read about.
//!
//! The same page, with the same drawing code, has two modes:
//!
//! - **live** (`sim serve --ui`): an HTTP server ([`server`]) sends the live cluster's
//!   [`ClusterView`] to the page over server-sent events, and the page's buttons send the
//!   stdin commands back ([`crate::live::command`]).
//! - **replay** (`sim run --html FILE`): the deterministic run's views over virtual time
//!   are embedded in the file as JSON ([`replay`]), with a time slider and no server.
//!
//! Both show Kafka's metrics under Kafka's names, from a [`crate::metrics::MetricsRecorder`]:
//! the run's own (scraped every 100 virtual ms) in replay, one fed by the live nodes'
//! samples and their controllers' events in live mode ([`live_feed`]).
//!
//! Every asset (`sim/ui/index.html`, `app.js`, `style.css`) is compiled into the binary
//! ([`assets`]): the page needs no network.

pub mod assets;
pub mod live_feed;
pub mod replay;
pub mod server;
pub mod view;

pub use view::{ClusterView, NodeState, NodeView};
