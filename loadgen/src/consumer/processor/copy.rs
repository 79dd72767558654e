//! The output record: a copy of one input record that says where it came from.
//!
//! Jepsen's Kafka workload writes values it can recognise when it reads them back; here
//! each copy carries the input partition and offset it was made from, and the transaction
//! that wrote it (the processor's life, a process instance, and the transaction's number
//! in that life), so the verdict can tell a lost copy, a copy read twice and a copy of an
//! aborted transaction apart.

/// The bytes a copy's value starts with, so a stray record is not mistaken for one.
const MAGIC: &[u8; 4] = b"kcpy";

/// The length of a copy's value.
pub const COPY_BYTES: usize = 4 + 4 + 8 + 4 + 8;

/// Where a copy came from and which transaction wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Copy {
    pub input_partition: i32,
    pub input_offset: i64,
    /// The processor process that wrote it (1 for the first, +1 at each restart).
    pub life: u32,
    /// The transaction's number within that life.
    pub txn: u64,
}

impl Copy {
    /// The record value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(COPY_BYTES);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.input_partition.to_be_bytes());
        out.extend_from_slice(&self.input_offset.to_be_bytes());
        out.extend_from_slice(&self.life.to_be_bytes());
        out.extend_from_slice(&self.txn.to_be_bytes());
        out
    }

    /// A copy from a record value, or `None` for anything else.
    pub fn decode(value: &[u8]) -> Option<Self> {
        if value.len() != COPY_BYTES || &value[..4] != MAGIC {
            return None;
        }
        let i32_at = |i: usize| value[i..i + 4].try_into().ok().map(i32::from_be_bytes);
        let u32_at = |i: usize| value[i..i + 4].try_into().ok().map(u32::from_be_bytes);
        let i64_at = |i: usize| value[i..i + 8].try_into().ok().map(i64::from_be_bytes);
        let u64_at = |i: usize| value[i..i + 8].try_into().ok().map(u64::from_be_bytes);
        Some(Self {
            input_partition: i32_at(4)?,
            input_offset: i64_at(8)?,
            life: u32_at(16)?,
            txn: u64_at(20)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_reads_back_what_it_wrote_and_anything_else_is_not_a_copy() {
        let c = Copy {
            input_partition: 3,
            input_offset: 1 << 40,
            life: 2,
            txn: 77,
        };
        assert_eq!(Copy::decode(&c.encode()), Some(c));
        assert_eq!(Copy::decode(b"kcpy"), None);
        let mut other = c.encode();
        other[0] = b'x';
        assert_eq!(Copy::decode(&other), None);
    }
}
