//! An ordered parallel map over a lazy source, with a bound on the items out at once:
//! [`map_in_order`] pulls items from an iterator on the calling thread, works them on a few
//! threads, and hands the results on in the source's order, never holding more than
//! [`Bounds::in_flight`] items between pulling one and handing it on.
//!
//! It exists for sources whose items are large and made one at a time (a scanned file's
//! decoded pages): a thread pool's ordered collect would need every item first, and its
//! unordered bridge would need an unbounded buffer to put the results back in order.
//!
//! This crate owns the threads of one map only. It does no I/O, knows nothing of what the items
//! are, and shares no threads between calls: a limit across calls (one per core) is the work
//! function's to take.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, VecDeque};
use std::ops::ControlFlow;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// How many threads work and how many items may be out at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Threads running the work function (at least 1).
    pub threads: usize,
    /// Most items between being pulled from the source and the sink returning on them, the one
    /// being pulled included (at least 1): waiting for a thread, worked, or waiting for their
    /// turn to be handed on.
    pub in_flight: usize,
}

/// Maps `items` through `work` on `bounds.threads` threads and hands each result to `sink` in
/// the order of `items`; returns whether every item was handed on (`false`: the sink broke off,
/// and no more items were pulled). The source is read on the calling thread, one item at a
/// time, and only while fewer than `bounds.in_flight` items are out; the sink runs on a thread
/// of its own, one result at a time. A panic in the source, the work or the sink stops the
/// others and is raised again here once every thread has ended.
pub fn map_in_order<T, U>(
    mut items: impl Iterator<Item = T>,
    bounds: Bounds,
    work: impl Fn(T) -> U + Sync,
    mut sink: impl FnMut(U) -> ControlFlow<()> + Send,
) -> bool
where
    T: Send,
    U: Send,
{
    let in_flight = bounds.in_flight.max(1);
    let shared = Shared {
        state: Mutex::new(State {
            waiting: VecDeque::new(),
            done: BTreeMap::new(),
            pulled: 0,
            handed_on: 0,
            source_ended: false,
            stopped: false,
        }),
        changed: Condvar::new(),
    };
    std::thread::scope(|scope| {
        for _ in 0..bounds.threads.max(1) {
            scope.spawn(|| {
                let _stop = StopOnPanic(&shared);
                loop {
                    let mut state = shared.wait_until(|s| s.stopped || s.source_ended || !s.waiting.is_empty());
                    if state.stopped {
                        return;
                    }
                    // Nothing waiting means the source has ended.
                    let Some((seq, item)) = state.waiting.pop_front() else { return };
                    drop(state);
                    let result = work(item);
                    shared.lock().done.insert(seq, result);
                    shared.changed.notify_all();
                }
            });
        }
        scope.spawn(|| {
            let _stop = StopOnPanic(&shared);
            loop {
                let mut state = shared.wait_until(|s| {
                    s.stopped || s.done.contains_key(&s.handed_on) || (s.source_ended && s.handed_on == s.pulled)
                });
                if state.stopped {
                    return;
                }
                let seq = state.handed_on;
                // Nothing done at its turn means every item was handed on.
                let Some(result) = state.done.remove(&seq) else { return };
                drop(state);
                let flow = sink(result);
                let mut state = shared.lock();
                state.handed_on += 1;
                state.stopped |= flow.is_break();
                drop(state);
                shared.changed.notify_all();
            }
        });
        let _stop = StopOnPanic(&shared);
        loop {
            let state = shared.wait_until(|s| s.stopped || s.pulled - s.handed_on < in_flight);
            if state.stopped {
                return;
            }
            drop(state);
            // Outside the lock: making an item is the slow part of a lazy source.
            let next = items.next();
            let mut state = shared.lock();
            let ended = next.is_none();
            match next {
                Some(item) => {
                    let seq = state.pulled;
                    state.waiting.push_back((seq, item));
                    state.pulled += 1;
                }
                None => state.source_ended = true,
            }
            drop(state);
            shared.changed.notify_all();
            if ended {
                return;
            }
        }
    });
    !shared.lock().stopped
}

/// What the source, the workers and the sink share.
struct Shared<T, U> {
    state: Mutex<State<T, U>>,
    /// Signalled on every change of `state`.
    changed: Condvar,
}

struct State<T, U> {
    /// Items pulled, in order, that no thread has taken yet.
    waiting: VecDeque<(usize, T)>,
    /// Results waiting for their turn to be handed on.
    done: BTreeMap<usize, U>,
    /// Items pulled from the source so far; the next one's sequence number.
    pulled: usize,
    /// Results the sink has returned on so far; the sequence number of the next one due.
    handed_on: usize,
    source_ended: bool,
    /// The sink broke off, or a thread panicked: everyone stops.
    stopped: bool,
}

impl<T, U> Shared<T, U> {
    /// The state, even after a panic elsewhere: the lock is never held while user code runs,
    /// so a poisoned state is still consistent.
    fn lock(&self) -> MutexGuard<'_, State<T, U>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_until(&self, mut ready: impl FnMut(&State<T, U>) -> bool) -> MutexGuard<'_, State<T, U>> {
        self.changed.wait_while(self.lock(), |s| !ready(s)).unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops every thread of the map when dropped by a panic, so that none waits for an item that
/// will not come.
struct StopOnPanic<'a, T, U>(&'a Shared<T, U>);

impl<T, U> Drop for StopOnPanic<'_, T, U> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().stopped = true;
            self.0.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    /// Counts what is out at once and remembers the most.
    #[derive(Default)]
    struct Gauge {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    impl Gauge {
        fn up(&self) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
        }
        fn down(&self) {
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
        fn most(&self) -> usize {
            self.most.load(Ordering::SeqCst)
        }
    }

    fn collect(items: Vec<u64>, bounds: Bounds, work: impl Fn(u64) -> u64 + Sync) -> (bool, Vec<u64>) {
        let mut out = Vec::new();
        let all = map_in_order(items.into_iter(), bounds, work, |r| {
            out.push(r);
            ControlFlow::Continue(())
        });
        (all, out)
    }

    #[test]
    fn results_come_in_the_source_order_when_later_items_finish_first() {
        let items: Vec<u64> = (0..40).collect();
        let (all, out) = collect(items, Bounds { threads: 4, in_flight: 8 }, |i| {
            std::thread::sleep(Duration::from_millis((40 - i) % 7));
            i * 10
        });
        assert!(all);
        assert_eq!(out, (0..40).map(|i| i * 10).collect::<Vec<_>>());
    }

    #[test]
    fn no_more_than_in_flight_items_are_out_while_the_first_is_slow() {
        let out = Gauge::default();
        let items = (0..50u64).inspect(|_| out.up());
        let mut handed = Vec::new();
        let all = map_in_order(
            items,
            Bounds { threads: 3, in_flight: 5 },
            |i| {
                // Every other item would be done long before the first without a bound.
                std::thread::sleep(Duration::from_millis(if i == 0 { 200 } else { 1 }));
                i
            },
            |i| {
                handed.push(i);
                out.down();
                ControlFlow::Continue(())
            },
        );
        assert!(all);
        assert_eq!(handed, (0..50).collect::<Vec<_>>());
        assert_eq!(out.most(), 5, "the window is used to its bound and not beyond");
    }

    #[test]
    fn the_item_being_pulled_counts_in_the_bound() {
        // The gauge goes up before the source returns the item: a source that made its next
        // item while the window was full would push it above the bound.
        let out = Gauge::default();
        let items = std::iter::from_fn({
            let mut n = 0u64;
            let out = &out;
            move || {
                out.up();
                n += 1;
                if n > 20 {
                    out.down();
                    return None;
                }
                std::thread::sleep(Duration::from_millis(1));
                Some(n)
            }
        });
        let all = map_in_order(
            items,
            Bounds { threads: 2, in_flight: 3 },
            |i| i,
            |_| {
                std::thread::sleep(Duration::from_millis(3));
                out.down();
                ControlFlow::Continue(())
            },
        );
        assert!(all);
        assert!(out.most() <= 3, "{} out at once", out.most());
    }

    #[test]
    fn no_more_than_threads_items_are_worked_at_once() {
        let working = Gauge::default();
        let (all, out) = collect((0..30).collect(), Bounds { threads: 3, in_flight: 10 }, |i| {
            working.up();
            std::thread::sleep(Duration::from_millis(5));
            working.down();
            i
        });
        assert!(all);
        assert_eq!(out.len(), 30);
        assert!(working.most() <= 3, "{} worked at once", working.most());
    }

    #[test]
    fn a_sink_that_breaks_off_stops_the_pulling_within_the_window() {
        let pulled = AtomicUsize::new(0);
        let items = (0..1000u64).inspect(|_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        });
        let mut handed = Vec::new();
        let all = map_in_order(
            items,
            Bounds { threads: 2, in_flight: 4 },
            |i| i,
            |i| {
                handed.push(i);
                if i == 9 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            },
        );
        assert!(!all);
        assert_eq!(handed, (0..10).collect::<Vec<_>>());
        // Ten handed on, then at most the window's worth pulled ahead of them.
        assert!(pulled.load(Ordering::SeqCst) <= 10 + 4, "{} pulled", pulled.load(Ordering::SeqCst));
    }

    #[test]
    fn an_empty_source_hands_on_nothing() {
        let (all, out) = collect(Vec::new(), Bounds { threads: 2, in_flight: 2 }, |i| i);
        assert!(all);
        assert!(out.is_empty());
    }

    #[test]
    fn zero_threads_and_a_zero_window_still_run_one_at_a_time() {
        let (all, out) = collect((0..5).collect(), Bounds { threads: 0, in_flight: 0 }, |i| i + 1);
        assert!(all);
        assert_eq!(out, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_panic_in_the_work_is_raised_again_and_nothing_hangs() {
        let handed = Mutex::new(Vec::new());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map_in_order(
                0..100u64,
                Bounds { threads: 3, in_flight: 6 },
                |i| {
                    assert_ne!(i, 7, "item 7 is bad");
                    i
                },
                |i| {
                    handed.lock().expect("not poisoned").push(i);
                    ControlFlow::Continue(())
                },
            )
        }));
        assert!(caught.is_err());
        let handed = handed.into_inner().expect("not poisoned");
        assert!(handed.iter().copied().eq(0..handed.len() as u64), "in order up to the stop: {handed:?}");
        assert!(!handed.contains(&7));
    }

    #[test]
    fn a_panic_in_the_source_is_raised_again_with_its_own_message() {
        let items = (0..100u64).inspect(|i| assert_ne!(*i, 12, "the source broke at 12"));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map_in_order(items, Bounds { threads: 2, in_flight: 3 }, |i| i, |_| ControlFlow::Continue(()))
        }));
        let payload = caught.expect_err("the source panicked");
        let message = payload.downcast_ref::<String>().map(String::as_str).unwrap_or_default();
        assert!(message.contains("the source broke at 12"), "{message}");
    }

    #[test]
    fn a_panic_in_the_sink_is_raised_again_and_nothing_hangs() {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            map_in_order(
                0..100u64,
                Bounds { threads: 2, in_flight: 3 },
                |i| i,
                |i| {
                    assert_ne!(i, 4, "the sink broke at 4");
                    ControlFlow::Continue(())
                },
            )
        }));
        assert!(caught.is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_item_is_handed_on_once_in_order(
            len in 0usize..120,
            threads in 1usize..6,
            in_flight in 1usize..10,
        ) {
            let out = Gauge::default();
            let items = (0..len as u64).inspect(|_| out.up());
            let mut handed = Vec::new();
            let all = map_in_order(items, Bounds { threads, in_flight }, |i| {
                // Uneven work, so that results finish out of order.
                if i % 5 == 0 {
                    std::thread::yield_now();
                }
                i * 3 + 1
            }, |r| {
                handed.push(r);
                out.down();
                ControlFlow::Continue(())
            });
            prop_assert!(all);
            prop_assert_eq!(handed, (0..len as u64).map(|i| i * 3 + 1).collect::<Vec<_>>());
            prop_assert!(out.most() <= in_flight);
        }
    }
}
