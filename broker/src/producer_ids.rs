//! Producer ids for idempotent producers: Kafka's `RPCProducerIdManager` (KIP-730).
//!
//! A broker answers InitProducerId from a block of ids the controller gave it. When the
//! block runs out it asks for the next one (AllocateProducerIds); requests arriving
//! meanwhile wait here, up to a bound.

use crate::messages::ClientToken;
use std::collections::VecDeque;

/// The most InitProducerId requests that may wait for a block; past it they fail at once.
pub const MAX_WAITING: usize = 1000;

#[derive(Debug, Default)]
pub struct ProducerIdManager {
    next: i64,
    end: i64,
    waiting: VecDeque<ClientToken>,
}

impl ProducerIdManager {
    /// The next id, if the block has one.
    pub fn next_id(&mut self) -> Option<i64> {
        (self.next < self.end).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// Queues a request until a block arrives; false if the queue is full.
    pub fn wait(&mut self, token: ClientToken) -> bool {
        if self.waiting.len() >= MAX_WAITING {
            return false;
        }
        self.waiting.push_back(token);
        true
    }

    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// A new block: the waiting requests get ids from it, in order.
    pub fn new_block(&mut self, first: i64, count: i32) -> Vec<(ClientToken, Option<i64>)> {
        self.next = first;
        self.end = first + i64::from(count.max(0));
        let mut out = Vec::new();
        while let Some(t) = self.waiting.pop_front() {
            match self.next_id() {
                Some(id) => out.push((t, Some(id))),
                None => {
                    self.waiting.push_front(t);
                    break;
                }
            }
        }
        out
    }

    /// Fails every waiting request (the controller refused).
    pub fn fail_waiting(&mut self) -> Vec<ClientToken> {
        self.waiting.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_blocks_and_waiters_are_served_in_order() {
        let mut m = ProducerIdManager::default();
        assert_eq!(m.next_id(), None);
        let t = |c| ClientToken {
            connection_id: 1,
            correlation_id: c,
        };
        assert!(m.wait(t(1)) && m.wait(t(2)));
        assert_eq!(
            m.new_block(1000, 2),
            vec![(t(1), Some(1000)), (t(2), Some(1001))]
        );
        assert_eq!(m.next_id(), None);
    }
}
