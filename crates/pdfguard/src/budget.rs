//! The process's memory budget for documents from outside: every load through
//! [`crate::load`] reserves what its survey says the document will take (and what its
//! caller says it will use beside it) and holds it until the document is dropped. When the
//! budget is spent, a load waits for others to finish, up to the time its caller allows,
//! and is then refused as busy. So however many uploads, checks and renders run at once,
//! loaded documents together stay within [`PROCESS_BUDGET_BYTES`].

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::GuardError;

/// Bytes all loaded documents of the process may take together (with their callers'
/// working memory). With the process's own needs (tens of MiB serving every role) and the
/// request bodies being read, this keeps a process under 512 MiB. A single document may
/// take at most [`crate::Limits::max_memory_bytes`] of it.
pub const PROCESS_BUDGET_BYTES: u64 = 320 << 20;

struct Budget {
    used: Mutex<u64>,
    freed: Condvar,
}

fn budget() -> &'static Budget {
    static BUDGET: OnceLock<Budget> = OnceLock::new();
    BUDGET.get_or_init(|| Budget { used: Mutex::new(0), freed: Condvar::new() })
}

/// Bytes of the budget held, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    bytes: u64,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let budget = budget();
        let mut used = budget.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(self.bytes);
        budget.freed.notify_all();
    }
}

/// Bytes of the budget in use now.
pub fn reserved_bytes() -> u64 {
    *budget().used.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds `bytes` of the process budget, waiting up to `wait` for them to be free.
pub fn reserve(bytes: u64, wait: Duration) -> Result<Reservation, GuardError> {
    if bytes > PROCESS_BUDGET_BYTES {
        return Err(GuardError::TooMuchMemory { limit: PROCESS_BUDGET_BYTES });
    }
    let budget = budget();
    let deadline = Instant::now() + wait;
    let mut used = budget.used.lock().unwrap_or_else(PoisonError::into_inner);
    while *used + bytes > PROCESS_BUDGET_BYTES {
        let now = Instant::now();
        if now >= deadline {
            return Err(GuardError::Busy { waited: wait });
        }
        used = budget.freed.wait_timeout(used, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
    }
    *used += bytes;
    Ok(Reservation { bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_waits_for_room_and_is_refused_when_none_comes() {
        let big = reserve(PROCESS_BUDGET_BYTES - 10, Duration::ZERO).expect("the budget is free");
        assert!(matches!(reserve(100, Duration::from_millis(20)), Err(GuardError::Busy { .. })));
        let waiter = std::thread::spawn(|| reserve(100, Duration::from_secs(10)).map(|r| r.bytes()));
        std::thread::sleep(Duration::from_millis(50));
        drop(big);
        assert_eq!(waiter.join().expect("joins"), Ok(100));
        assert!(matches!(reserve(PROCESS_BUDGET_BYTES + 1, Duration::ZERO), Err(GuardError::TooMuchMemory { .. })));
    }
}
